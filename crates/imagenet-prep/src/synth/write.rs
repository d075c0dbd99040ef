//! Writing a plan in one of the three layouts, atomically.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::plan::{Plan, Planned};
use super::{
    DEVKIT_TGZ, ImageKind, SynthConfig, SynthError, SynthImage, SynthLayout, SynthSummary,
    TRAIN_TAR, VAL_TAR,
};
use crate::mat::write_synsets;

/// Fixed modification time of every tar member (2012-06-01), so archives
/// are byte-identical across runs.
const MTIME: u64 = 1_338_508_800;
const DEVKIT_DIR: &str = "ILSVRC2012_devkit_t12";

pub(crate) fn write(
    cfg: &SynthConfig,
    plan: &Plan,
    out: &Path,
) -> Result<SynthSummary, SynthError> {
    fs::create_dir_all(out).map_err(io_err(out))?;
    let summary = |files,
                   train_path: &dyn Fn(&Planned) -> String,
                   val_path: &dyn Fn(&Planned) -> String| SynthSummary {
        files,
        classes: plan.classes.clone(),
        train: plan.train.iter().map(|p| image(p, train_path(p))).collect(),
        val: plan.val.iter().map(|p| image(p, val_path(p))).collect(),
    };
    let wnid = |p: &Planned| plan.classes[p.label as usize].wnid.clone();
    match cfg.layout {
        SynthLayout::Archives => {
            write_train_tar(plan, &out.join(TRAIN_TAR))?;
            write_val_tar(plan, &out.join(VAL_TAR))?;
            write_devkit(cfg, plan, &out.join(DEVKIT_TGZ))?;
            Ok(summary(
                vec![out.join(TRAIN_TAR), out.join(VAL_TAR), out.join(DEVKIT_TGZ)],
                &|p| format!("{TRAIN_TAR}:{}.tar:{}", wnid(p), p.name),
                &|p| format!("{VAL_TAR}:{}", p.name),
            ))
        }
        SynthLayout::Folders => {
            let val_dir = |p: &Planned| {
                if cfg.val_by_class {
                    format!("val/{}/{}", wnid(p), p.name)
                } else {
                    format!("val/{}", p.name)
                }
            };
            write_tree(out, &["train", "val"], |tmp| {
                write_files(plan, &plan.train, tmp, &|p| {
                    format!("train/{}/{}", wnid(p), p.name)
                })?;
                write_files(plan, &plan.val, tmp, &val_dir)
            })?;
            write_devkit(cfg, plan, &out.join(DEVKIT_TGZ))?;
            Ok(summary(
                vec![out.join("train"), out.join("val"), out.join(DEVKIT_TGZ)],
                &|p| format!("train/{}/{}", wnid(p), p.name),
                &val_dir,
            ))
        }
        SynthLayout::Kaggle => {
            let base = "ILSVRC/Data/CLS-LOC";
            let train_path = |p: &Planned| format!("{base}/train/{}/{}", wnid(p), p.name);
            let val_path = |p: &Planned| format!("{base}/val/{}", p.name);
            write_tree(out, &["ILSVRC"], |tmp| {
                write_files(plan, &plan.train, tmp, &train_path)?;
                write_files(plan, &plan.val, tmp, &val_path)
            })?;
            let mapping: String = plan
                .classes
                .iter()
                .map(|c| format!("{} {}\n", c.wnid, c.words))
                .collect();
            let mapping_path = out.join("LOC_synset_mapping.txt");
            write_atomic(&mapping_path, |w| w.write_all(mapping.as_bytes()))?;
            let solution_path = out.join("LOC_val_solution.csv");
            let csv = val_solution(plan);
            write_atomic(&solution_path, |w| w.write_all(csv.as_bytes()))?;
            Ok(summary(
                vec![out.join("ILSVRC"), mapping_path, solution_path],
                &train_path,
                &val_path,
            ))
        }
    }
}

fn image(p: &Planned, path: String) -> SynthImage {
    SynthImage {
        path,
        name: p.name.clone(),
        label: p.label,
        kind: p.kind,
        size: if p.kind == ImageKind::Empty {
            (0, 0)
        } else {
            (p.width, p.height)
        },
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `path` through a temporary sibling, fsyncs it and renames it in.
/// `f` may smuggle a [`SynthError`] out through [`io::Error::other`].
fn write_atomic(
    path: &Path,
    f: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), SynthError> {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let result = (|| {
        let mut w = BufWriter::new(File::create(&tmp)?);
        f(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|e| match e.downcast::<SynthError>() {
        Ok(inner) => inner,
        Err(e) => io_err(path)(e),
    })
}

/// Renders `items` in parallel, for use inside [`write_atomic`].
fn render_io<'a>(plan: &Plan, items: &[&'a Planned]) -> io::Result<Vec<(&'a Planned, Vec<u8>)>> {
    items
        .par_iter()
        .map(|&p| Ok((p, plan.render(p)?)))
        .collect::<Result<_, SynthError>>()
        .map_err(io::Error::other)
}

/// Builds the directories `names` under a temporary directory in `out`,
/// then renames each into place. Refuses to replace existing directories.
fn write_tree(
    out: &Path,
    names: &[&str],
    f: impl FnOnce(&Path) -> Result<(), SynthError>,
) -> Result<(), SynthError> {
    for n in names {
        let target = out.join(n);
        if target.exists() {
            return Err(SynthError::Exists(target));
        }
    }
    let tmp = out.join(format!(".synth-partial-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
    }
    fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
    let result = f(&tmp).and_then(|()| {
        for n in names {
            let target = out.join(n);
            fs::rename(tmp.join(n), &target).map_err(io_err(&target))?;
        }
        fs::remove_dir(&tmp).map_err(io_err(&tmp))
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result
}

/// Writes each image to `root/<path_of(image)>`.
fn write_files(
    plan: &Plan,
    items: &[Planned],
    root: &Path,
    path_of: &(dyn Fn(&Planned) -> String + Sync),
) -> Result<(), SynthError> {
    // Render a chunk at a time to bound memory on large configurations.
    for chunk in items.chunks(512) {
        let items: Vec<&Planned> = chunk.iter().collect();
        for (p, bytes) in render_io(plan, &items).map_err(|e| match e.downcast::<SynthError>() {
            Ok(inner) => inner,
            Err(e) => io_err(root)(e),
        })? {
            let path = root.join(path_of(p));
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir).map_err(io_err(dir))?;
            }
            fs::write(&path, bytes).map_err(io_err(&path))?;
        }
    }
    Ok(())
}

fn tar_header(path: &str, size: u64, dir: bool) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    // Paths here are short ASCII names, always valid in a GNU header.
    h.set_path(path).expect("tar member names are short ASCII");
    h.set_size(size);
    h.set_mode(if dir { 0o755 } else { 0o644 });
    h.set_mtime(MTIME);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(if dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    h.set_cksum();
    h
}

fn append<W: Write>(b: &mut tar::Builder<W>, path: &str, data: &[u8]) -> io::Result<()> {
    b.append(&tar_header(path, data.len() as u64, false), data)
}

/// Outer tar of `<wnid>.tar` inner tars, one per class, in WNID order;
/// one class at a time is held in memory.
fn write_train_tar(plan: &Plan, path: &Path) -> Result<(), SynthError> {
    write_atomic(path, |w| {
        let mut outer = tar::Builder::new(w);
        for (c, class) in plan.classes.iter().enumerate() {
            let of_class: Vec<&Planned> = plan
                .train
                .iter()
                .filter(|p| p.label as usize == c)
                .collect();
            let mut inner = tar::Builder::new(Vec::new());
            for (p, bytes) in render_io(plan, &of_class)? {
                append(&mut inner, &p.name, &bytes)?;
            }
            append(
                &mut outer,
                &format!("{}.tar", class.wnid),
                &inner.into_inner()?,
            )?;
        }
        outer.into_inner()?;
        Ok(())
    })
}

/// Flat tar of val images, members in shuffled order.
fn write_val_tar(plan: &Plan, path: &Path) -> Result<(), SynthError> {
    write_atomic(path, |w| {
        let mut b = tar::Builder::new(w);
        for chunk in plan.val_tar_order.chunks(512) {
            let items: Vec<&Planned> = chunk.iter().map(|&i| &plan.val[i]).collect();
            for (p, bytes) in render_io(plan, &items)? {
                append(&mut b, &p.name, &bytes)?;
            }
        }
        b.into_inner()?;
        Ok(())
    })
}

/// `ILSVRC2012_devkit_t12/data/{meta.mat, ILSVRC2012_validation_ground_truth.txt}`.
fn write_devkit(cfg: &SynthConfig, plan: &Plan, path: &Path) -> Result<(), SynthError> {
    let meta = write_synsets(&plan.synsets, cfg.mat_style);
    let truth: String = plan
        .val
        .iter()
        .map(|p| format!("{}\n", plan.classes[p.label as usize].ilsvrc2012_id))
        .collect();
    let readme = "Synthetic ILSVRC2012 development kit written by `cargo xtask synth`.\n\
                  data/meta.mat: synsets (ILSVRC2012_ID, WNID, words, gloss, num_children,\n\
                  children, wordnet_height, num_train_images).\n\
                  data/ILSVRC2012_validation_ground_truth.txt: one ILSVRC2012_ID per val image,\n\
                  in file-name order.\n";
    write_atomic(path, |w| {
        let gz = flate2::write::GzEncoder::new(w, flate2::Compression::default());
        let mut b = tar::Builder::new(gz);
        for dir in [format!("{DEVKIT_DIR}/"), format!("{DEVKIT_DIR}/data/")] {
            b.append(&tar_header(&dir, 0, true), io::empty())?;
        }
        append(
            &mut b,
            &format!("{DEVKIT_DIR}/readme.txt"),
            readme.as_bytes(),
        )?;
        append(&mut b, &format!("{DEVKIT_DIR}/data/meta.mat"), &meta)?;
        append(
            &mut b,
            &format!("{DEVKIT_DIR}/data/ILSVRC2012_validation_ground_truth.txt"),
            truth.as_bytes(),
        )?;
        b.into_inner()?.finish()?;
        Ok(())
    })
}

/// Kaggle's `LOC_val_solution.csv`: rows in shuffled order, each with the
/// WNID and a box, the format Kaggle ships (`wnid x1 y1 x2 y2`).
fn val_solution(plan: &Plan) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed ^ 0x6b61_6767_6c65);
    let mut csv = String::from("ImageId,PredictionString\n");
    for &i in &plan.val_tar_order {
        let p = &plan.val[i];
        let (w, h) = (p.width.max(4), p.height.max(4));
        let x1 = rng.random_range(0..w / 3);
        let y1 = rng.random_range(0..h / 3);
        let x2 = rng.random_range(2 * w / 3..w);
        let y2 = rng.random_range(2 * h / 3..h);
        let stem = p.name.trim_end_matches(".JPEG");
        let wnid = &plan.classes[p.label as usize].wnid;
        csv.push_str(&format!("{stem},{wnid} {x1} {y1} {x2} {y2}\n"));
    }
    csv
}
