//! [`ImageTransform`]: the evaluation loader's view of one prepared image
//! that is not in a shard (prediction on a user's file), through the same
//! normalisation kernel, so a prediction sees exactly what evaluation does.

use std::path::Path;

use shard_format::manifest::{MANIFEST_FILE, Manifest};

use super::LoaderError;
use super::config::MeanMode;
use super::eval::EvalView;
use super::kernel::Normaliser;
use super::shards::read_manifest;

/// Crops and normalises `size`×`size`×3 prepared images (HWC `u8`, as prep
/// writes them) into the `views` NCHW `f32` crops [`EvalLoader`] would make
/// of the same image.
///
/// [`EvalLoader`]: super::EvalLoader
#[derive(Debug, Clone)]
pub struct ImageTransform {
    norm: Normaliser,
    windows: Vec<(usize, usize, bool)>,
    crop: usize,
}

impl ImageTransform {
    /// The transform of the dataset prepared in `dir` (its `manifest.json`
    /// gives the image size and, for the image and per-channel modes, the
    /// statistics; no shard is opened).
    pub fn for_dataset(
        dir: &Path,
        view: EvalView,
        crop: usize,
        mean: MeanMode,
        scale: f32,
    ) -> Result<(Self, Manifest), LoaderError> {
        let manifest = read_dataset_manifest(dir)?;
        let size = manifest.image_size as usize;
        let norm = Normaliser::build(size, mean, scale, Some((dir, &manifest)))?;
        Ok((Self::with(norm, view, crop)?, manifest))
    }

    /// A transform of `size`×`size` images that needs no dataset: mean
    /// modes `Torchvision` and `None` only.
    pub fn standalone(
        size: usize,
        view: EvalView,
        crop: usize,
        mean: MeanMode,
        scale: f32,
    ) -> Result<Self, LoaderError> {
        Self::with(Normaliser::build(size, mean, scale, None)?, view, crop)
    }

    fn with(norm: Normaliser, view: EvalView, crop: usize) -> Result<Self, LoaderError> {
        let s = norm.size();
        if crop == 0 || crop > s {
            return Err(LoaderError::Config(format!(
                "crop {crop} must be in 1..={s} (the prepared image size)"
            )));
        }
        Ok(Self {
            windows: view.windows(s, crop),
            norm,
            crop,
        })
    }

    /// Side of the prepared images this transform takes.
    pub fn image_size(&self) -> usize {
        self.norm.size()
    }

    /// Side of each crop.
    pub fn crop(&self) -> usize {
        self.crop
    }

    /// Crops per image.
    pub fn views(&self) -> usize {
        self.windows.len()
    }

    /// The crops of `image` (`S*S*3` bytes, HWC): `views * 3 * crop * crop`
    /// values, NCHW, or an error if `image` has another size.
    pub fn apply(&self, image: &[u8]) -> Result<Vec<f32>, LoaderError> {
        let s = self.norm.size();
        if image.len() != s * s * 3 {
            return Err(LoaderError::Config(format!(
                "image has {} bytes, a {s}x{s} RGB image {}",
                image.len(),
                s * s * 3
            )));
        }
        let plane = 3 * self.crop * self.crop;
        let mut out = vec![0f32; self.windows.len() * plane];
        for (&window, dst) in self.windows.iter().zip(out.chunks_exact_mut(plane)) {
            self.norm.render(image, window, self.crop, [0.0; 3], dst);
        }
        Ok(out)
    }
}

/// Reads `dir/manifest.json` as the loader does (format version first).
pub fn read_dataset_manifest(dir: &Path) -> Result<Manifest, LoaderError> {
    read_manifest_file(&dir.join(MANIFEST_FILE))
}

/// Reads the manifest file at `path` as the loader does.
pub fn read_manifest_file(path: &Path) -> Result<Manifest, LoaderError> {
    read_manifest(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::{TORCHVISION_MEAN, TORCHVISION_STD};

    /// torchvision's documented transform, `(x/255 − mean_c) / std_c`, of
    /// window (`y0`, `x0`) of an HWC image, CHW, in f64.
    fn documented(image: &[u8], s: usize, (y0, x0): (usize, usize), crop: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(3 * crop * crop);
        for c in 0..3 {
            for y in 0..crop {
                for x in 0..crop {
                    let v = f64::from(image[((y0 + y) * s + x0 + x) * 3 + c]) / 255.0;
                    out.push((v - f64::from(TORCHVISION_MEAN[c])) / f64::from(TORCHVISION_STD[c]));
                }
            }
        }
        out
    }

    fn max_diff(a: &[f32], b: impl IntoIterator<Item = f64>) -> f64 {
        a.iter()
            .zip(b)
            .map(|(&x, y)| (f64::from(x) - y).abs())
            .fold(0.0, f64::max)
    }

    fn pseudo_random_image(s: usize) -> Vec<u8> {
        // Every byte value, in an order without structure (a multiplicative
        // walk), so a channel or row mix-up cannot go unnoticed.
        (0..s * s * 3)
            .map(|i| ((i * 97 + 31) % 256) as u8)
            .collect()
    }

    #[test]
    fn torchvision_mode_is_the_documented_formula_on_the_centre_crop() {
        // torchvision's CenterCrop(224) of a 256 image starts at
        // round((256 - 224) / 2) = 16 on both axes.
        let (s, crop) = (256, 224);
        let image = pseudo_random_image(s);
        let t = ImageTransform::standalone(s, EvalView::Center, crop, MeanMode::Torchvision, 1.0)
            .unwrap();
        let ours = t.apply(&image).unwrap();
        assert_eq!(ours.len(), 3 * crop * crop);
        let d = max_diff(&ours, documented(&image, s, (16, 16), crop));
        // f32 rounding of a value within ±2.7: a few ulps.
        assert!(d < 2e-6, "max difference {d}");
        // The first value is pixel (16, 16), red.
        let r = f64::from(image[(16 * s + 16) * 3]) / 255.0;
        assert!((f64::from(ours[0]) - (r - 0.485) / 0.229).abs() < 2e-6);
    }

    #[test]
    fn torchvision_mode_needs_unit_scale_and_other_modes_need_a_dataset() {
        let err =
            ImageTransform::standalone(256, EvalView::Center, 224, MeanMode::Torchvision, 255.0)
                .unwrap_err();
        assert!(err.to_string().contains("scale must be 1"), "{err}");
        let err = ImageTransform::standalone(256, EvalView::Center, 224, MeanMode::Image, 255.0)
            .unwrap_err();
        assert!(err.to_string().contains("colour statistics"), "{err}");
        let t = ImageTransform::standalone(8, EvalView::Center, 4, MeanMode::None, 255.0).unwrap();
        assert!(t.apply(&[0; 10]).is_err());
    }

    fn read_f32(bytes: &[u8]) -> Vec<f32> {
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }

    /// Outputs of real torchvision 0.29.2 (`testdata/torchvision_fixture.py`):
    /// `Normalize(CenterCrop(16)(ToTensor()(image)))` and `TenCrop(16)`.
    #[test]
    fn torchvision_mode_matches_real_torchvision_output() {
        let image = include_bytes!("testdata/tv_image.u8");
        let center = read_f32(include_bytes!("testdata/tv_center.f32"));
        let ten = read_f32(include_bytes!("testdata/tv_tencrop.f32"));
        let plane = 3 * 16 * 16;
        assert_eq!((center.len(), ten.len()), (plane, 10 * plane));

        let t = ImageTransform::standalone(24, EvalView::Center, 16, MeanMode::Torchvision, 1.0)
            .unwrap();
        let ours = t.apply(image).unwrap();
        let d = max_diff(&ours, center.iter().map(|&v| f64::from(v)));
        assert!(d < 2e-6, "centre crop: max difference {d} from torchvision");

        // The same ten crops. torchvision's second five are the corners of
        // the mirrored image (its top-left is the original's top-right,
        // mirrored); ours mirror each of the first five in place. Softmax
        // averaging does not care; here the order is mapped.
        let t = ImageTransform::standalone(24, EvalView::TenCrop, 16, MeanMode::Torchvision, 1.0)
            .unwrap();
        let ours = t.apply(image).unwrap();
        let torchvision_of_ours = [0, 1, 2, 3, 4, 6, 5, 8, 7, 9];
        for (v, &k) in torchvision_of_ours.iter().enumerate() {
            let a = &ours[v * plane..(v + 1) * plane];
            let b = &ten[k * plane..(k + 1) * plane];
            let d = max_diff(a, b.iter().map(|&x| f64::from(x)));
            assert!(
                d < 2e-6,
                "view {v} vs torchvision's {k}: max difference {d}"
            );
        }
    }
}
