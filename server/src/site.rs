//! The static files of the site: the hydrate script, the wasm and the
//! stylesheet under `/pkg`, as `cargo xtask build` publishes them.
//!
//! That build names each file after a hash of its content and writes the
//! hashes to `<site-root>/hash.txt`; when that file is there, pages link the
//! hashed names and browsers may keep them for a year. A build without it
//! (`cargo leptos watch`) keeps plain names, which browsers revalidate.
//! Either way the gzipped copy written at build time is served to browsers
//! that accept it, so the wasm is never compressed per request.

use std::path::{Path, PathBuf};

use axum::http::{header, HeaderValue};
use leptos::prelude::LeptosOptions;
use tower::Layer;
use tower_http::services::ServeDir;
use tower_http::set_header::{SetResponseHeader, SetResponseHeaderLayer};

/// Hashed files never change under their name.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Plain names change content from one build to the next.
const REVALIDATE: &str = "no-cache";

/// The hash file of the site at `site_root`, if a build wrote one.
pub fn hash_file(site_root: &Path) -> Option<PathBuf> {
    let path = std::path::absolute(site_root.join("hash.txt")).ok()?;
    path.is_file().then_some(path)
}

/// Turns on hashed names when the site has a hash file. leptos looks the
/// file up next to the server binary; an absolute path points it at the
/// site instead, where the build that wrote the files left it.
pub fn use_hashed_names(options: &mut LeptosOptions) -> anyhow::Result<()> {
    let Some(path) = hash_file(Path::new(&*options.site_root)) else {
        options.hash_files = false;
        return Ok(());
    };
    let hashes = std::fs::read_to_string(&path)?;
    let pkg = Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    for (kind, hash) in hashes.lines().filter_map(|l| l.split_once(':')) {
        let file = pkg.join(hashed_file_name(
            &options.output_name,
            kind.trim(),
            hash.trim(),
        ));
        anyhow::ensure!(
            file.is_file(),
            "{} names {}, which is missing: rebuild the site with `cargo xtask build`",
            path.display(),
            file.display()
        );
    }
    options.hash_files = true;
    options.hash_file = path.to_string_lossy().into();
    Ok(())
}

/// The name of a hash file entry's file: the app's script, wasm and
/// stylesheet, and the link module and manifest of its split wasm.
fn hashed_file_name(output_name: &str, kind: &str, hash: &str) -> String {
    match kind {
        "split" => format!("__wasm_split.{hash}.js"),
        "manifest" => format!("__wasm_split_manifest.{hash}.json"),
        ext => format!("{output_name}.{hash}.{ext}"),
    }
}

/// What serves `/pkg`.
pub type PkgService = SetResponseHeader<SetResponseHeader<ServeDir, HeaderValue>, HeaderValue>;

/// Serves `<site-root>/<pkg>`, preferring the build's `.gz` copies. The
/// answer depends on `Accept-Encoding`, which shared caches must be told.
pub fn pkg_service(options: &LeptosOptions) -> PkgService {
    let dir = Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    let cache = if options.hash_files {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let files =
        SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static(cache))
            .layer(ServeDir::new(dir).precompressed_gzip());
    SetResponseHeaderLayer::overriding(header::VARY, HeaderValue::from_static("accept-encoding"))
        .layer(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    const WASM: &[u8] = b"\0asm\x01\0\0\0";

    /// A site as `cargo xtask build` publishes it, in a fresh folder.
    fn site(with_hash_file: bool) -> (PathBuf, LeptosOptions) {
        let root = std::env::temp_dir().join(format!("codebook-site-{}", uuid::Uuid::new_v4()));
        let pkg = root.join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(pkg.join("codebook.00aa.wasm"), WASM).unwrap();
        std::fs::write(pkg.join("codebook.00aa.wasm.gz"), gzip(WASM)).unwrap();
        std::fs::write(pkg.join("codebook.11bb.js"), "export default 1").unwrap();
        std::fs::write(pkg.join("codebook.22cc.css"), "body{}").unwrap();
        std::fs::write(pkg.join("__wasm_split.33dd.js"), "export {}").unwrap();
        std::fs::write(pkg.join("__wasm_split_manifest.33dd.json"), "{}").unwrap();
        if with_hash_file {
            std::fs::write(
                root.join("hash.txt"),
                "js: 11bb\nwasm: 00aa\ncss: 22cc\nsplit: 33dd\nmanifest: 33dd\n",
            )
            .unwrap();
        }
        let options = LeptosOptions::builder()
            .output_name("codebook")
            .site_root(root.to_string_lossy().to_string())
            .build();
        (root, options)
    }

    fn gzip(content: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(content).unwrap();
        encoder.finish().unwrap()
    }

    async fn get(options: &LeptosOptions, path: &str, gzip: bool) -> axum::response::Response {
        let mut request = Request::get(path);
        if gzip {
            request = request.header(header::ACCEPT_ENCODING, "gzip, br");
        }
        pkg_service(options)
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
            .map(Body::new)
    }

    #[tokio::test]
    async fn hashed_files_are_cached_for_a_year_and_served_gzipped_as_built() {
        let (root, mut options) = site(true);
        use_hashed_names(&mut options).unwrap();
        assert!(options.hash_files);
        assert_eq!(app::ui::stylesheet_href(&options), "/pkg/codebook.22cc.css");

        let zipped = get(&options, "/codebook.00aa.wasm", true).await;
        assert_eq!(zipped.status(), StatusCode::OK);
        assert_eq!(zipped.headers()[header::CACHE_CONTROL], IMMUTABLE);
        assert_eq!(zipped.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(zipped.headers()[header::CONTENT_TYPE], "application/wasm");
        assert_eq!(zipped.headers()[header::VARY], "accept-encoding");
        let body = zipped.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], &gzip(WASM)[..]);

        let plain = get(&options, "/codebook.00aa.wasm", false).await;
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        let body = plain.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], WASM);

        let gone = get(&options, "/codebook.ffff.wasm", true).await;
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn without_a_hash_file_names_are_plain_and_revalidated() {
        let (root, mut options) = site(false);
        std::fs::write(root.join("pkg/codebook.css"), "body{}").unwrap();
        use_hashed_names(&mut options).unwrap();
        assert!(!options.hash_files);
        assert_eq!(app::ui::stylesheet_href(&options), "/pkg/codebook.css");
        let response = get(&options, "/codebook.css", true).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CACHE_CONTROL], REVALIDATE);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_hash_file_naming_a_missing_file_stops_the_server() {
        let (root, mut options) = site(true);
        std::fs::remove_file(root.join("pkg/codebook.11bb.js")).unwrap();
        let error = use_hashed_names(&mut options).unwrap_err().to_string();
        assert!(error.contains("codebook.11bb.js"), "{error}");
        assert!(error.contains("cargo xtask build"), "{error}");
        std::fs::remove_dir_all(root).unwrap();
    }
}
