//! What the build needs to know about the site, read from the one place
//! cargo-leptos reads it too: `[[workspace.metadata.leptos]]` in the
//! workspace's Cargo.toml. Both build paths take their settings from that
//! table, so they cannot drift apart; the tests below refuse any key this
//! build would silently ignore.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// The workspace root: this crate lives one folder below it. Read from the
/// environment `cargo run` (and the test runner) give the process, not
/// from the path compiled in: clones that share a target folder share this
/// binary, and cargo may reuse one built in another clone, which would
/// then publish the site into that clone (seen: `make test` in one clone
/// served the other's stale wasm).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// The cargo profile of the wasm's release build, when the metadata names
/// none (cargo-leptos's default).
const DEFAULT_WASM_PROFILE: &str = "release";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// File names of the hydrate script, wasm and stylesheet (`codebook`).
    pub output_name: String,
    /// The folder the server serves static files from.
    pub site_root: PathBuf,
    /// The folder under `site_root` for the script, wasm and stylesheet.
    pub site_pkg_dir: String,
    pub style_file: PathBuf,
    /// Copied as they are into `site_root`.
    pub assets_dir: PathBuf,
    /// The server binary's package.
    pub bin_package: String,
    /// The hydrate library's package, built for wasm32.
    pub lib_package: String,
    /// The cargo profile of the wasm (small, not fast).
    pub wasm_profile: String,
}

impl Settings {
    /// The settings of the workspace at `root`, paths resolved against it.
    pub fn load(root: &Path) -> anyhow::Result<Settings> {
        let manifest = std::fs::read_to_string(root.join("Cargo.toml"))
            .context("reading the workspace's Cargo.toml")?;
        let mut settings = Settings::from_manifest(&manifest)?;
        settings.site_root = root.join(&settings.site_root);
        settings.style_file = root.join(&settings.style_file);
        settings.assets_dir = root.join(&settings.assets_dir);
        Ok(settings)
    }

    /// The settings in a workspace manifest, paths as written there.
    pub fn from_manifest(manifest: &str) -> anyhow::Result<Settings> {
        let table = leptos_metadata(manifest)?;
        let text = |key: &str| -> anyhow::Result<String> {
            match table.get(key) {
                Some(toml::Value::String(value)) => Ok(value.clone()),
                Some(_) => bail!("`{key}` in [[workspace.metadata.leptos]] must be a string"),
                None => bail!("[[workspace.metadata.leptos]] has no `{key}`"),
            }
        };
        Ok(Settings {
            output_name: text("name")?,
            site_root: text("site-root")?.into(),
            site_pkg_dir: text("site-pkg-dir")?,
            style_file: text("style-file")?.into(),
            assets_dir: text("assets-dir")?.into(),
            bin_package: text("bin-package")?,
            lib_package: text("lib-package")?,
            wasm_profile: text("lib-profile-release")
                .unwrap_or_else(|_| DEFAULT_WASM_PROFILE.to_owned()),
        })
    }

    pub fn pkg_dir(&self) -> PathBuf {
        self.site_root.join(&self.site_pkg_dir)
    }

    /// Where the build writes the content hashes of the script, wasm and
    /// stylesheet; the server names the files after them when it exists.
    pub fn hash_file(&self) -> PathBuf {
        self.site_root.join("hash.txt")
    }
}

/// The one `[[workspace.metadata.leptos]]` table.
pub fn leptos_metadata(manifest: &str) -> anyhow::Result<toml::Table> {
    let manifest: toml::Table = manifest.parse().context("Cargo.toml is not valid TOML")?;
    let projects = manifest
        .get("workspace")
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("leptos"))
        .and_then(|l| l.as_array())
        .context("Cargo.toml has no [[workspace.metadata.leptos]]")?;
    match projects.as_slice() {
        [toml::Value::Table(project)] => Ok(project.clone()),
        _ => bail!("Cargo.toml must have exactly one [[workspace.metadata.leptos]] table"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> String {
        std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap()
    }

    fn lockfile() -> toml::Table {
        std::fs::read_to_string(workspace_root().join("Cargo.lock"))
            .unwrap()
            .parse()
            .unwrap()
    }

    fn locked_versions(lock: &toml::Table, name: &str) -> Vec<String> {
        lock["package"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"].as_str() == Some(name))
            .map(|p| p["version"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Keys cargo-leptos reads that this build does the same for, with the
    /// value both paths need where it matters. A key outside this list
    /// (`bin-features`, `js-minify`, `bin-cargo-args`, …) would make
    /// `cargo leptos` build something `cargo xtask build` does not.
    const UNDERSTOOD: &[(&str, Option<&str>)] = &[
        ("name", None),
        ("bin-package", None),
        ("lib-package", None),
        ("site-root", None),
        ("site-pkg-dir", None),
        ("style-file", None),
        ("assets-dir", None),
        ("lib-profile-release", None),
        // Run-time only (the server reads them from Leptos.toml; a server
        // test keeps the two files in agreement).
        ("site-addr", None),
        ("reload-port", None),
        ("env", None),
        // Only for `cargo leptos end-to-end`, which the Makefile does not use.
        ("end2end-cmd", None),
        ("end2end-dir", None),
        ("browserquery", None),
        // Plain cargo passes no features beyond the packages' defaults.
        ("bin-features", Some("[]")),
        ("lib-features", Some("[]")),
        ("bin-default-features", Some("true")),
        ("lib-default-features", Some("true")),
        // cargo-leptos would add `--cfg erase_components` to its debug
        // builds, and a server built with it cannot hydrate a wasm built
        // without it (the bug that taught us to keep one build path).
        ("disable-erase-components", Some("true")),
    ];

    #[test]
    fn cargo_leptos_metadata_has_only_settings_this_build_honours() {
        let table = leptos_metadata(&manifest()).unwrap();
        for (key, value) in &table {
            let Some((_, expected)) = UNDERSTOOD.iter().find(|(k, _)| k == key) else {
                panic!(
                    "[[workspace.metadata.leptos]] sets `{key}`, which `cargo xtask build` \
                     does not honour: teach xtask about it or remove it"
                );
            };
            if let Some(expected) = expected {
                assert_eq!(&value.to_string(), expected, "`{key}`");
            }
        }
        assert_eq!(table["disable-erase-components"].as_bool(), Some(true));
    }

    #[test]
    fn settings_name_real_files_and_packages() {
        let root = workspace_root();
        let settings = Settings::load(&root).unwrap();
        assert!(settings.style_file.is_file(), "{:?}", settings.style_file);
        assert!(settings.assets_dir.is_dir(), "{:?}", settings.assets_dir);
        assert!(root
            .join(&settings.bin_package)
            .join("Cargo.toml")
            .is_file());
        assert!(root
            .join(&settings.lib_package)
            .join("Cargo.toml")
            .is_file());
        let manifest: toml::Table = manifest().parse().unwrap();
        let wasm_profile = &manifest["profile"][&settings.wasm_profile];
        assert_eq!(wasm_profile["lto"].as_bool(), Some(true));
        assert_eq!(wasm_profile["opt-level"].as_str(), Some("z"));
    }

    /// leptos reads LEPTOS_OUTPUT_NAME when it is compiled; every cargo
    /// command gets it from .cargo/config.toml, and it must be the name
    /// the files are written under.
    #[test]
    fn every_cargo_build_compiles_in_the_output_name() {
        let config: toml::Table =
            std::fs::read_to_string(workspace_root().join(".cargo/config.toml"))
                .unwrap()
                .parse()
                .unwrap();
        let settings = Settings::from_manifest(&manifest()).unwrap();
        assert_eq!(
            config["env"]["LEPTOS_OUTPUT_NAME"].as_str(),
            Some(settings.output_name.as_str())
        );
    }

    /// The library that replaces the wasm-bindgen CLI must be the exact
    /// version of the wasm-bindgen crate the wasm links, or the generated
    /// JavaScript and the wasm disagree on their ABI.
    #[test]
    fn wasm_bindgen_library_is_the_locked_wasm_bindgen_version() {
        let lock = lockfile();
        let runtime = locked_versions(&lock, "wasm-bindgen");
        let support = locked_versions(&lock, "wasm-bindgen-cli-support");
        assert_eq!(
            runtime.len(),
            1,
            "one wasm-bindgen in Cargo.lock: {runtime:?}"
        );
        assert_eq!(runtime, support);
    }

    /// Every dependency of the server with its features, as `cargo tree`
    /// resolves them for the given kinds of dependency edges.
    fn resolved_features(edges: &str) -> std::collections::BTreeMap<String, String> {
        let output = std::process::Command::new(env!("CARGO"))
            .current_dir(workspace_root())
            .args([
                "tree",
                "--offline",
                "--package",
                "server",
                "--prefix",
                "none",
            ])
            .args(["--edges", edges, "--format", "{p}|{f}"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .filter_map(|line| line.trim_end_matches(" (*)").split_once('|'))
            .map(|(package, features)| (package.to_owned(), features.to_owned()))
            .collect()
    }

    /// A dev-dependency that turns on more features of a crate the server
    /// uses makes `cargo test` compile a second copy of that crate and of
    /// everything above it, up to the server: the binary the tests run
    /// would not be the one `make run` serves, and both would be built.
    #[test]
    fn the_tests_resolve_the_servers_dependencies_with_the_same_features() {
        let build = resolved_features("normal,build");
        let test = resolved_features("normal,build,dev");
        for (package, features) in &build {
            assert_eq!(
                test.get(package),
                Some(features),
                "{package}: the test build turns on other features than `cargo build`; \
                 enable them in the normal dependencies too"
            );
        }
    }

    #[test]
    fn a_missing_key_is_named() {
        let err =
            Settings::from_manifest("[[workspace.metadata.leptos]]\nname = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("bin-package") || err.to_string().contains("site-root"));
    }
}
