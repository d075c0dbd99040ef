//! MATLAB v5 `.mat` reading and writing (devkit `meta.mat`).
