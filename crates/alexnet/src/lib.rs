//! AlexNet (Krizhevsky, Sutskever & Hinton, NIPS 2012) on burn, generic over
//! the backend.
