//! A finished run's graphs: paths made absolute, and up to `--max-images` of them turned
//! from PNG or SVG files into PNG images small enough to hand to a client.
//!
//! SVG is rasterised in-process (resvg) because console Stata cannot write PNG itself
//! (docs/stata-behavior.md, graphs): exporting SVG and rasterising it here works everywhere.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use resvg::tiny_skia::{Pixmap, Transform};
use resvg::usvg;

use crate::run::RunOutcome;
use crate::run::image::Image;
use crate::settings::Settings;

/// Resolves the run's graph paths against `cwd` and loads up to `--max-images` of them
/// as PNG (none with `--no-images`); a graph that cannot be shown gets a note saying why.
pub(crate) async fn attach(settings: &Settings, outcome: &mut RunOutcome, cwd: &Path) {
    for g in &mut outcome.graphs {
        if g.is_relative() {
            *g = cwd.join(&*g);
        }
    }
    if settings.no_images || settings.max_images == 0 || outcome.graphs.is_empty() {
        return;
    }
    let wanted: Vec<PathBuf> = outcome
        .graphs
        .iter()
        .take(settings.max_images)
        .cloned()
        .collect();
    let skipped = outcome.graphs.len() - wanted.len();
    // Rasterising an SVG takes milliseconds to tens of them: off the async threads.
    let loaded = tokio::task::spawn_blocking(move || {
        wanted
            .iter()
            .map(|p| load_png(p, MAX_WIDTH))
            .collect::<Vec<_>>()
    })
    .await;
    match loaded {
        Ok(results) => {
            for r in results {
                match r {
                    Ok(image) => outcome.images.push(image),
                    Err(e) => outcome.notes.push(format!("graph not shown: {e}")),
                }
            }
        }
        Err(e) => outcome
            .notes
            .push(format!("graphs not shown: loading them failed ({e})")),
    }
    if skipped > 0 {
        outcome.notes.push(format!(
            "{skipped} more graph{} not shown as images (at most {} per call, \
             --max-images); their paths are listed",
            if skipped == 1 { " is" } else { "s are" },
            settings.max_images
        ));
    }
}

/// The width images are scaled down to when wider (height follows, keeping the aspect).
pub(crate) const MAX_WIDTH: u32 = 1200;
/// The MIME type of every image this module produces.
pub(crate) const PNG_MIME: &str = "image/png";
/// A graph file larger than this is not read: no Stata graph comes near it, and reading
/// an arbitrary huge file into memory to show it would be a way to exhaust the server.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// The most pixels an image may have when decoded or rendered (about 160 MB as RGBA).
const MAX_PIXELS: u64 = 40_000_000;
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Loads a PNG or SVG graph file as a PNG at most `max_width` pixels wide.
///
/// A PNG that already fits is returned byte for byte; a wider one is scaled down keeping
/// its aspect; an SVG is rendered at its own size (or scaled down to fit). The format is
/// read from the file's content, not its name. Blocking: call it off the async runtime
/// (`spawn_blocking`) for large files.
pub(crate) fn load_png(path: &Path, max_width: u32) -> Result<Image, String> {
    let bytes = read_bounded(path)?;
    let max_width = max_width.max(1);
    let image = if bytes.starts_with(PNG_SIGNATURE) {
        png_fit(bytes, max_width)
            .map_err(|e| format!("could not read the PNG {}: {e}", path.display()))
    } else if looks_like_svg(&bytes) {
        svg_to_png(&bytes, path.parent(), max_width)
            .map_err(|e| format!("could not render the SVG {}: {e}", path.display()))
    } else {
        Err(format!(
            "{} is neither a PNG nor an SVG file, so it cannot be shown as an image; \
             export the graph as .svg or .png",
            path.display()
        ))
    }?;
    Ok(Image {
        source: path.to_path_buf(),
        ..image
    })
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| {
        format!(
            "could not open the graph file {}: {e} (was it moved or deleted after the run?)",
            path.display()
        )
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("could not read the graph file {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "the graph file {} is larger than {} MB, too large to show as an image",
            path.display(),
            MAX_FILE_BYTES / (1024 * 1024)
        ));
    }
    Ok(bytes)
}

/// An SVG starts (after an optional BOM, XML declaration and comments) with `<svg`; looking
/// for the tag near the start is enough to tell it from the other formats Stata writes.
fn looks_like_svg(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    head.windows(4).any(|w| w == b"<svg")
}

/// The PNG as is when it fits `max_width`, else decoded, scaled down and re-encoded.
fn png_fit(bytes: Vec<u8>, max_width: u32) -> Result<Image, String> {
    let limits = png::Limits {
        bytes: usize::try_from(MAX_PIXELS * 4).unwrap_or(usize::MAX),
    };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes.as_slice()), limits);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let (width, height) = {
        let info = reader.info();
        (info.width, info.height)
    };
    if width <= max_width {
        // The reader borrows `bytes`; end the borrow to hand the file back untouched.
        drop(reader);
        return Ok(Image {
            png: bytes,
            width,
            height,
            source: PathBuf::new(),
        });
    }
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(format!(
            "{width}x{height} pixels is too large to scale (limit {MAX_PIXELS} pixels)"
        ));
    }
    let size = reader
        .output_buffer_size()
        .ok_or("the image is too large to decode")?;
    let mut buf = vec![0u8; size];
    let frame = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    let rgba = to_rgba8(&buf[..frame.buffer_size()], frame.color_type)?;
    let (new_w, new_h) = fit(width, height, max_width);
    let scaled = downscale_rgba(&rgba, width, height, new_w, new_h);
    encode_png(&scaled, new_w, new_h)
}

/// Expands 8-bit grey, grey+alpha or RGB pixels to RGBA.
fn to_rgba8(buf: &[u8], color: png::ColorType) -> Result<Vec<u8>, String> {
    use png::ColorType;
    let out = match color {
        ColorType::Rgba => buf.to_vec(),
        ColorType::Rgb => buf
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        ColorType::Grayscale => buf.iter().flat_map(|&g| [g, g, g, 255]).collect(),
        ColorType::GrayscaleAlpha => buf
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        // normalize_to_color8 expands palettes, so this does not happen.
        ColorType::Indexed => return Err("palette image was not expanded".into()),
    };
    Ok(out)
}

/// The size that fits `max_width`, keeping the aspect ratio (never 0 pixels).
fn fit(width: u32, height: u32, max_width: u32) -> (u32, u32) {
    if width <= max_width {
        return (width, height);
    }
    let h = (f64::from(height) * f64::from(max_width) / f64::from(width)).round();
    (max_width, (h as u32).max(1))
}

/// Scales RGBA pixels down by area averaging: each output pixel is the mean of the input
/// area it covers, weighted by coverage. For shrinking this is exact enough (no aliasing of
/// thin plot lines, which point sampling would drop) and needs no extra crate. Colours are
/// averaged premultiplied by alpha so transparent pixels do not darken their neighbours.
fn downscale_rgba(src: &[u8], sw: u32, sh: u32, dw: u32, dh: u32) -> Vec<u8> {
    let (sw, sh, dw, dh) = (sw as usize, sh as usize, dw as usize, dh as usize);
    // Premultiplied floats, one row at a time through a horizontal pass, then vertical.
    let weights_x = area_weights(sw, dw);
    let weights_y = area_weights(sh, dh);
    // Horizontal pass: sh rows of dw pixels.
    let mut mid = vec![0f32; sh * dw * 4];
    for y in 0..sh {
        let row = &src[y * sw * 4..(y + 1) * sw * 4];
        for (dx, taps) in weights_x.iter().enumerate() {
            let mut acc = [0f32; 4];
            for &(sx, w) in taps {
                let p = &row[sx * 4..sx * 4 + 4];
                let a = f32::from(p[3]) / 255.0;
                acc[0] += f32::from(p[0]) * a * w;
                acc[1] += f32::from(p[1]) * a * w;
                acc[2] += f32::from(p[2]) * a * w;
                acc[3] += a * w;
            }
            mid[(y * dw + dx) * 4..(y * dw + dx) * 4 + 4].copy_from_slice(&acc);
        }
    }
    // Vertical pass, then back to straight alpha.
    let mut out = vec![0u8; dw * dh * 4];
    for (dy, taps) in weights_y.iter().enumerate() {
        for dx in 0..dw {
            let mut acc = [0f32; 4];
            for &(sy, w) in taps {
                let p = &mid[(sy * dw + dx) * 4..(sy * dw + dx) * 4 + 4];
                for c in 0..4 {
                    acc[c] += p[c] * w;
                }
            }
            let a = acc[3];
            let o = &mut out[(dy * dw + dx) * 4..(dy * dw + dx) * 4 + 4];
            if a > 0.0 {
                for c in 0..3 {
                    o[c] = (acc[c] / a).round().clamp(0.0, 255.0) as u8;
                }
            }
            o[3] = (a * 255.0).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// For each of `dst` output pixels, the source pixels it covers and their weights (summing to 1).
fn area_weights(src: usize, dst: usize) -> Vec<Vec<(usize, f32)>> {
    let scale = src as f64 / dst as f64;
    (0..dst)
        .map(|d| {
            let start = d as f64 * scale;
            let end = ((d + 1) as f64 * scale).min(src as f64);
            let mut taps = Vec::new();
            let mut s = start.floor() as usize;
            while (s as f64) < end && s < src {
                let lo = start.max(s as f64);
                let hi = end.min((s + 1) as f64);
                if hi > lo {
                    taps.push((s, ((hi - lo) / scale) as f32));
                }
                s += 1;
            }
            taps
        })
        .collect()
}

fn encode_png(rgba: &[u8], width: u32, height: u32) -> Result<Image, String> {
    let mut png = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png, width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .map_err(|e| format!("could not encode the PNG: {e}"))?;
        writer
            .write_image_data(rgba)
            .map_err(|e| format!("could not encode the PNG: {e}"))?;
        writer
            .finish()
            .map_err(|e| format!("could not encode the PNG: {e}"))?;
    }
    Ok(Image {
        png,
        width,
        height,
        source: PathBuf::new(),
    })
}

/// Renders an SVG to PNG at its own size in CSS pixels (96 per inch), scaled down to fit.
fn svg_to_png(bytes: &[u8], dir: Option<&Path>, max_width: u32) -> Result<Image, String> {
    let options = usvg::Options {
        resources_dir: dir.map(Path::to_path_buf),
        fontdb: fonts(),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_data(bytes, &options).map_err(|e| e.to_string())?;
    let size = tree.size();
    let (w, h) = (f64::from(size.width()), f64::from(size.height()));
    let mut scale = (f64::from(max_width) / w).min(1.0);
    // A very tall, narrow drawing must not become an enormous pixmap.
    let pixels = w * h * scale * scale;
    if pixels > MAX_PIXELS as f64 {
        scale *= (MAX_PIXELS as f64 / pixels).sqrt();
    }
    let pw = ((w * scale).round() as u32).max(1);
    let ph = ((h * scale).round() as u32).max(1);
    let mut pixmap =
        Pixmap::new(pw, ph).ok_or_else(|| format!("cannot make a {pw}x{ph} pixel image"))?;
    // Graphs are drawn for a white page; a transparent background shows as black in
    // some clients, so paint it white first (Stata's own SVGs paint it anyway).
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    let transform = Transform::from_scale(pw as f32 / w as f32, ph as f32 / h as f32);
    resvg::render(&tree, transform, &mut pixmap.as_mut());
    // tiny-skia holds premultiplied RGBA; PNG wants straight alpha.
    let rgba: Vec<u8> = pixmap
        .pixels()
        .iter()
        .flat_map(|p| {
            let c = p.demultiply();
            [c.red(), c.green(), c.blue(), c.alpha()]
        })
        .collect();
    encode_png(&rgba, pw, ph)
}

/// The system's fonts, loaded once: SVG text (titles, axis labels) needs them, and
/// scanning the font folders takes tens of milliseconds, too much for every graph.
fn fonts() -> Arc<usvg::fontdb::Database> {
    static FONTS: OnceLock<Arc<usvg::fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = usvg::fontdb::Database::new();
            db.load_system_fonts();
            // Stata's graphs ask for Helvetica or Arial, which Linux rarely has, and usvg
            // falls back to the "serif" family. Point the generic families at a sans face
            // that is installed so the labels still appear, in a similar font.
            let installed: Vec<String> = db
                .faces()
                .flat_map(|f| f.families.iter().map(|(name, _)| name.clone()))
                .collect();
            let preferred = [
                "Helvetica",
                "Arial",
                "Liberation Sans",
                "DejaVu Sans",
                "Noto Sans",
                "FreeSans",
            ];
            let fallback = preferred
                .iter()
                .find(|p| installed.iter().any(|i| i == *p))
                .map(|p| (*p).to_owned())
                .or_else(|| installed.first().cloned());
            if let Some(family) = fallback {
                db.set_sans_serif_family(family.clone());
                if !installed.iter().any(|i| i == "Times New Roman") {
                    db.set_serif_family(family);
                }
            }
            Arc::new(db)
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_of(width: u32, height: u32) -> Vec<u8> {
        let mut rgba = Vec::with_capacity((width * height * 4) as usize);
        for _ in 0..height {
            for x in 0..width {
                // Left half red, right half blue: checks the scaling keeps the layout.
                let left = x < width / 2;
                rgba.extend([
                    if left { 255 } else { 0 },
                    0,
                    if left { 0 } else { 255 },
                    255,
                ]);
            }
        }
        encode_png(&rgba, width, height).expect("encode").png
    }

    fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut decoder = png::Decoder::new(Cursor::new(png_bytes));
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().expect("png header");
        let mut buf = vec![0; reader.output_buffer_size().expect("size")];
        let frame = reader.next_frame(&mut buf).expect("frame");
        let rgba = to_rgba8(&buf[..frame.buffer_size()], frame.color_type).expect("rgba");
        (frame.width, frame.height, rgba)
    }

    #[test]
    fn a_wide_png_is_scaled_to_1200_pixels() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("wide.png");
        std::fs::write(&path, png_of(2400, 800)).expect("write");
        let img = load_png(&path, MAX_WIDTH).expect("load");
        assert_eq!((img.width, img.height), (1200, 400));
        let (w, h, rgba) = decode(&img.png);
        assert_eq!((w, h), (1200, 400));
        // A pixel on the left is still red, one on the right still blue.
        let px = |x: usize, y: usize| &rgba[(y * 1200 + x) * 4..(y * 1200 + x) * 4 + 4];
        assert_eq!(px(10, 10), [255, 0, 0, 255]);
        assert_eq!(px(1190, 390), [0, 0, 255, 255]);
    }

    #[test]
    fn a_png_that_fits_is_returned_unchanged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("small.png");
        let bytes = png_of(64, 48);
        std::fs::write(&path, &bytes).expect("write");
        let img = load_png(&path, MAX_WIDTH).expect("load");
        assert_eq!(img.png, bytes);
        assert_eq!((img.width, img.height), (64, 48));
    }

    #[test]
    fn svg_is_rendered_at_its_size_or_scaled_down() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("g.svg");
        std::fs::write(
            &path,
            "<?xml version=\"1.0\"?>\n<svg width=\"396pt\" height=\"288pt\" viewBox=\"0 0 3960 2880\" \
             xmlns=\"http://www.w3.org/2000/svg\"><rect x=\"0\" y=\"0\" width=\"1980\" height=\"2880\" \
             style=\"fill:#FF0000\"/><text x=\"100\" y=\"200\" style=\"font-family:'Helvetica';font-size:99px\">T</text></svg>\n",
        )
        .expect("write");
        // 396 pt = 5.5 in = 528 CSS pixels.
        let img = load_png(&path, MAX_WIDTH).expect("render");
        let (w, h, rgba) = decode(&img.png);
        assert_eq!((w, h), (528, 384));
        assert_eq!(&rgba[..4], [255, 0, 0, 255], "left half is the red rect");
        let right = (100 * 528 + 500) * 4;
        assert_eq!(&rgba[right..right + 4], [255, 255, 255, 255], "white page");
        let small = load_png(&path, 264).expect("render small");
        assert_eq!((small.width, small.height), (264, 192));
    }

    #[test]
    fn other_files_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("g.pdf");
        std::fs::write(&path, "%PDF-1.4\n").expect("write");
        let err = load_png(&path, MAX_WIDTH).expect_err("pdf");
        assert!(err.contains("neither a PNG nor an SVG"), "{err}");
        let err = load_png(&dir.path().join("missing.png"), MAX_WIDTH).expect_err("missing");
        assert!(err.contains("could not open"), "{err}");
    }

    #[test]
    fn area_weights_sum_to_one() {
        for (s, d) in [(2400, 1200), (1000, 333), (7, 3)] {
            for taps in area_weights(s, d) {
                let sum: f32 = taps.iter().map(|t| t.1).sum();
                assert!((sum - 1.0).abs() < 1e-4, "{s}->{d}: {sum}");
            }
        }
    }
}
