//! Augmentation settings and the per-image parameters drawn from them.

/// What is subtracted from every pixel before the network sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MeanMode {
    /// The training set's mean image (the paper's "mean activity"),
    /// cropped at the same window as the image and flipped with it.
    Image,
    /// The training set's per-channel RGB mean.
    PerChannel,
    /// torchvision's ImageNet normalisation, `(x/255 − mean_c) / std_c`
    /// with [`TORCHVISION_MEAN`] and [`TORCHVISION_STD`] (fixed constants,
    /// not the dataset's): what torchvision's pretrained weights expect.
    /// Works on [0, 1] pixels, so `scale` must be 1; PCA lighting offsets
    /// are added before the division by the std, as torchvision's own
    /// lighting transforms do.
    Torchvision,
    /// Nothing.
    None,
}

/// torchvision's per-channel ImageNet mean (RGB, [0, 1] scale), as in
/// `transforms.Normalize(mean=[0.485, 0.456, 0.406], ...)`.
pub const TORCHVISION_MEAN: [f32; 3] = [0.485, 0.456, 0.406];

/// torchvision's per-channel ImageNet standard deviation (RGB, [0, 1] scale).
pub const TORCHVISION_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Training augmentation, as in the paper: random `crop`×`crop` windows of
/// the `S`×`S` shard images, horizontal flips, PCA lighting, mean
/// subtraction. Pixels become `x * scale / 255` minus the mean (same
/// units) plus the lighting offset `eigvec · (alpha ⊙ eigval) * scale`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AugmentConfig {
    /// Side of the square crop fed to the network (224 in the paper).
    pub crop: usize,
    /// Random crop position (`false`: always the centre window).
    pub random_crop: bool,
    /// Horizontal flip with probability 0.5.
    pub flip: bool,
    /// Standard deviation of the PCA lighting coefficients alpha (0.1 in the
    /// paper; 0 turns lighting off).
    pub pca_std: f32,
    /// Mean subtraction.
    pub mean: MeanMode,
    /// Output units: 255 gives the paper's raw pixel scale, 1 gives [0, 1].
    pub scale: f32,
}

impl Default for AugmentConfig {
    /// The paper's recipe: random 224 crops, flips, lighting with
    /// alpha ~ N(0, 0.1), mean image subtraction, raw pixel units.
    fn default() -> Self {
        Self {
            crop: 224,
            random_crop: true,
            flip: true,
            pca_std: 0.1,
            mean: MeanMode::Image,
            scale: 255.0,
        }
    }
}

impl AugmentConfig {
    /// No augmentation at all: centre crop, no flip, no lighting, no mean,
    /// output equal to the raw pixel values (scale 255). Handy in tests.
    pub fn plain(crop: usize) -> Self {
        Self {
            crop,
            random_crop: false,
            flip: false,
            pca_std: 0.0,
            mean: MeanMode::None,
            scale: 255.0,
        }
    }
}

/// The random choices made for one image of one epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augmentation {
    /// Top row of the crop window.
    pub y0: usize,
    /// Left column of the crop window.
    pub x0: usize,
    /// Whether the crop is mirrored left-right.
    pub flip: bool,
    /// PCA lighting coefficients (0 when lighting is off).
    pub alpha: [f32; 3],
    /// RGB offset added to every pixel, in output units
    /// (`eigvec · (alpha ⊙ eigval) * scale`).
    pub offset: [f32; 3],
}
