//! Splitting the compiled wasm at its lazy routes (`#[lazy_route]` in
//! `app`), with the `wasm_split_cli_support` library: a main module (the
//! shell: runtime, router, layout) and one chunk per route, plus chunks of
//! code that several routes share. A small script, the link module, loads
//! a route's chunks when the router first needs them.
//!
//! The main module imports the link module under a placeholder name of
//! fixed length, written into both the wasm and its glue; publishing
//! replaces it with the build's own name, of the same length, so the wasm
//! stays valid and browsers never mix two builds' files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The link module's name as the main module imports it, until published.
pub const LINK_PLACEHOLDER: &str = "./__wasm_split.______________________.js";
/// Where the link module imports the main module's glue from, until
/// published (then the glue's hashed name).
pub const GLUE_PLACEHOLDER: &str = "./__codebook_glue__.js";

/// What splitting wrote into its folder.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Split {
    /// The main module, for wasm-bindgen.
    pub main: PathBuf,
    /// The link module (JavaScript).
    pub link: PathBuf,
    /// Every chunk, by its file stem (`chunk_0`, or a route's split name).
    pub chunks: BTreeMap<String, PathBuf>,
    /// For each lazy route (its split name), the stems of the chunks it
    /// needs, as leptos's `HydrationScripts` reads them to preload.
    pub needs: BTreeMap<String, Vec<String>>,
}

impl Split {
    const RECORD: &'static str = "split.json";

    /// Splits `wasm` (linked with `--emit-relocs`) into `dir`.
    pub fn run(wasm: &Path, dir: &Path) -> anyhow::Result<Split> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir)?;
        let input = std::fs::read(wasm).with_context(|| format!("reading {}", wasm.display()))?;
        let main = dir.join("main.wasm");
        let mut options = wasm_split_cli_support::Options::new(&input);
        options.output_dir = dir;
        options.main_out_path = &main;
        options.link_name = LINK_PLACEHOLDER;
        options.main_module = GLUE_PLACEHOLDER;
        let split = wasm_split_cli_support::transform(options)
            .map_err(|e| anyhow::anyhow!("splitting the wasm failed: {e:?}"))?;
        let chunks = split
            .split_modules
            .into_iter()
            .map(|path| {
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .context("a chunk without a file name")?
                    .to_owned();
                Ok((stem, path))
            })
            .collect::<anyhow::Result<_>>()?;
        let split = Split {
            main,
            link: dir.join(LINK_PLACEHOLDER),
            chunks,
            needs: split.prefetch_map.into_iter().collect(),
        };
        std::fs::write(dir.join(Self::RECORD), serde_json::to_vec_pretty(&split)?)?;
        Ok(split)
    }

    /// The split an earlier build left in `dir`.
    pub fn read(dir: &Path) -> anyhow::Result<Split> {
        let record = std::fs::read(dir.join(Self::RECORD))
            .with_context(|| format!("no split in {}", dir.display()))?;
        Ok(serde_json::from_slice(&record)?)
    }
}

/// `placeholder` replaced by `name` (of the same length) in a wasm binary.
pub fn rename_in_wasm(wasm: &[u8], placeholder: &str, name: &str) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(
        placeholder.len() == name.len(),
        "{name} must be as long as {placeholder}"
    );
    let needle = placeholder.as_bytes();
    let mut out = wasm.to_vec();
    let mut found = 0;
    let mut at = 0;
    while let Some(offset) = out[at..].windows(needle.len()).position(|w| w == needle) {
        let start = at + offset;
        out[start..start + needle.len()].copy_from_slice(name.as_bytes());
        at = start + needle.len();
        found += 1;
    }
    anyhow::ensure!(found > 0, "the main module does not import {placeholder}");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placeholder_is_renamed_in_place_and_only_to_a_name_of_its_length() {
        let wasm = [b"\0asm".as_slice(), LINK_PLACEHOLDER.as_bytes(), b"\x01"].concat();
        let name = format!("./__wasm_split.{}.js", "a".repeat(22));
        let renamed = rename_in_wasm(&wasm, LINK_PLACEHOLDER, &name).unwrap();
        assert_eq!(renamed.len(), wasm.len());
        assert!(renamed.windows(name.len()).any(|w| w == name.as_bytes()));
        assert!(rename_in_wasm(&wasm, LINK_PLACEHOLDER, "./short.js").is_err());
        assert!(rename_in_wasm(b"\0asm", LINK_PLACEHOLDER, &name).is_err());
    }
}
