//! From a compiled hydrate wasm to the files the server serves: the
//! wasm-bindgen glue, the size-optimised main module and route chunks
//! (`split`), the link module that loads them, the stylesheet and the
//! public assets, each named after a hash of its content (so browsers may
//! cache them for a year) and stored gzipped too (so the server never
//! compresses them per request).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use sha2::{Digest, Sha256};

use crate::bundle::{self, Bundle};
use crate::settings::Settings;
use crate::split::{self, Split};

/// The files of one build of the site, named as the server serves them.
#[derive(Debug)]
pub struct Hashed {
    pub js: String,
    pub wasm: String,
    pub css: String,
    /// The build's link module is `__wasm_split.<split>.js`, its manifest
    /// `__wasm_split_manifest.<split>.json`.
    pub split: String,
    /// For each lazy route, what its first load fetches besides the main
    /// module, as leptos preloads it: the published name of its bundle
    /// (without `.wasm`).
    pub routes: BTreeMap<String, Vec<String>>,
    /// Every chunk's published file name, as later pages fetch them.
    pub chunks: Vec<String>,
}

impl Hashed {
    /// `hash.txt` as leptos's `HydrationScripts` reads it (`js: <hash>`,
    /// `wasm: <hash>`, `split: <hash>`, `manifest: <hash>`), and the
    /// stylesheet's for our own `<link>`.
    fn hash_file(&self) -> String {
        format!(
            "js: {}\nwasm: {}\ncss: {}\nsplit: {}\nmanifest: {}\n",
            self.js, self.wasm, self.css, self.split, self.split
        )
    }

    fn link_module(&self) -> String {
        format!("__wasm_split.{}.js", self.split)
    }

    fn manifest(&self) -> String {
        format!("__wasm_split_manifest.{}.json", self.split)
    }

    /// The hashes of the site's last build, from its hash file (the
    /// budget test checks what the test command's build published).
    #[cfg(test)]
    pub fn read(settings: &Settings) -> anyhow::Result<Hashed> {
        let path = settings.hash_file();
        let text = fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is missing: build the site with `cargo xtask build`",
                path.display()
            )
        })?;
        let hash = |kind: &str| -> anyhow::Result<String> {
            text.lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(file, _)| file.trim() == kind)
                .map(|(_, hash)| hash.trim().to_owned())
                .with_context(|| format!("{} names no {kind}", path.display()))
        };
        let split = hash("split")?;
        let manifest = settings
            .pkg_dir()
            .join(format!("__wasm_split_manifest.{split}.json"));
        let routes = serde_json::from_slice(&fs::read(&manifest)?)?;
        let chunks = fs::read_to_string(settings.pkg_dir().join(LAST_BUILD))?
            .lines()
            .filter(|file| is_chunk(file))
            .map(str::to_owned)
            .collect();
        Ok(Hashed {
            js: hash("js")?,
            wasm: hash("wasm")?,
            css: hash("css")?,
            split,
            routes,
            chunks,
        })
    }

    /// Where the gzipped main module of these hashes is published.
    pub fn wasm_gz(&self, settings: &Settings) -> PathBuf {
        settings
            .pkg_dir()
            .join(format!("{}.{}.wasm.gz", settings.output_name, self.wasm))
    }

    /// Where a published file's gzipped copy is.
    pub fn gz(&self, settings: &Settings, file: &str) -> PathBuf {
        gz_path(&settings.pkg_dir().join(file))
    }
}

/// Whether a published file is one of the splitter's chunks (it names
/// them `chunk_<n>` and `split_<route>`).
#[cfg(test)]
fn is_chunk(file: &str) -> bool {
    (file.starts_with("chunk_") || file.starts_with("split_")) && file.ends_with(".wasm")
}

/// Generates the glue for `wasm` into `out_dir`: `<name>.js` and
/// `<name>_bg.wasm`, plus `snippets/` if a crate inlines JavaScript.
/// The main module of a split keeps the linker's exports, which its chunks
/// import.
pub fn bindgen(wasm: &Path, name: &str, out_dir: &Path) -> anyhow::Result<()> {
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(wasm)
        .out_name(name)
        .web(true)?
        .typescript(false)
        .omit_default_module_path(false)
        .keep_lld_exports(true)
        .generate(out_dir)
        .context("wasm-bindgen failed")
}

/// Shrinks the wasm with binaryen's `wasm-opt -Oz`, in place.
pub fn optimise(wasm: &Path) -> anyhow::Result<()> {
    let optimised = wasm.with_extension("opt.wasm");
    let status = Command::new("wasm-opt")
        .arg("-Oz")
        .arg(wasm)
        .arg("-o")
        .arg(&optimised)
        .status()
        .context(
            "could not run wasm-opt: install binaryen (scripts/bootstrap.sh run puts it in \
             ~/.cache/codebook/tools/node_modules/.bin, which the Makefile adds to PATH)",
        )?;
    if !status.success() {
        bail!("wasm-opt failed ({status})");
    }
    fs::rename(&optimised, wasm)?;
    Ok(())
}

/// Chunks smaller than this are published as the splitter wrote them:
/// `wasm-opt` starts up for a second per file, and hundreds of tiny chunks
/// (shared helpers) would cost minutes to save a few bytes each.
const WORTH_OPTIMISING: u64 = 8 * 1024;

/// `optimise` on every file worth it, as many at once as there are cores;
/// the others lose their custom sections (names, producers), which is most
/// of what `wasm-opt` would take off them.
pub fn optimise_all(wasms: &[PathBuf]) -> anyhow::Result<()> {
    let (mut queue, small): (Vec<&PathBuf>, Vec<&PathBuf>) = wasms
        .iter()
        .partition(|w| w.metadata().is_ok_and(|m| m.len() >= WORTH_OPTIMISING));
    for wasm in small {
        let stripped = without_custom_sections(&fs::read(wasm)?)?;
        fs::write(wasm, stripped)?;
    }
    // The largest first, so the last to finish is a small one.
    queue.sort_by_key(|w| std::cmp::Reverse(w.metadata().map(|m| m.len()).unwrap_or(0)));
    on_every_core(queue, |wasm| optimise(wasm))
}

/// `work` on each item, as many at once as there are cores, taking the
/// items in order; the first error stops the rest.
fn on_every_core<T: Send>(
    items: impl IntoIterator<Item = T, IntoIter: Send>,
    work: impl Fn(T) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<()> {
    let queue = std::sync::Mutex::new(items.into_iter());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let next = queue.lock().expect("no worker panicked").next();
                        match next {
                            Some(item) => work(item)?,
                            None => return Ok(()),
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().expect("a worker thread panicked"))
    })
}

/// A wasm module without its custom sections (id 0): what it runs is in
/// the other sections.
fn without_custom_sections(wasm: &[u8]) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(
        wasm.len() >= 8 && &wasm[..4] == b"\0asm",
        "not a wasm module"
    );
    let mut out = wasm[..8].to_vec();
    let mut at = 8;
    while at < wasm.len() {
        let id = wasm[at];
        let (size, size_len) = read_leb128(&wasm[at + 1..])?;
        let end = at + 1 + size_len + size;
        anyhow::ensure!(
            end <= wasm.len(),
            "a section runs past the end of the module"
        );
        if id != 0 {
            out.extend_from_slice(&wasm[at..end]);
        }
        at = end;
    }
    Ok(out)
}

/// An unsigned LEB128 number and how many bytes it took.
fn read_leb128(bytes: &[u8]) -> anyhow::Result<(usize, usize)> {
    let mut value = 0usize;
    for (i, byte) in bytes.iter().take(5).enumerate() {
        value |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    bail!("a malformed section size")
}

/// Publishes the glue in `bindgen_dir`, the split's chunks and link
/// module, the stylesheet and the assets into the site folder, then writes
/// the hash file that names them. Files of earlier builds are removed from
/// the package folder afterwards.
pub fn publish(settings: &Settings, bindgen_dir: &Path, split: &Split) -> anyhow::Result<Hashed> {
    let name = &settings.output_name;
    let pkg = settings.pkg_dir();
    fs::create_dir_all(&pkg).with_context(|| format!("creating {}", pkg.display()))?;
    copy_dir(&settings.assets_dir, &settings.site_root)?;
    let mut published = Vec::new();

    // Each chunk under its own content's hash: a build that leaves a route
    // alone leaves its chunk cached.
    let mut chunks = BTreeMap::new();
    for (stem, path) in &split.chunks {
        let content = fs::read(path)?;
        chunks.insert(stem.clone(), (hashed_name(stem, "wasm", &content), content));
    }
    let (bundles, bundle_files) = bundle_routes(&pkg, split, &chunks)?;
    let chunk_files: BTreeMap<String, String> = chunks
        .iter()
        .map(|(stem, (file, _))| (stem.clone(), file.clone()))
        .collect();
    let chunk_files_with_content = chunks
        .into_values()
        .map(|(file, content)| (pkg.join(file), content));
    write_all_with_gz(chunk_files_with_content.chain(bundle_files).collect())?;
    published.extend(chunk_files.values().cloned());
    published.extend(bundles.values().map(|b| b.file.clone()));

    let generated = fs::read_to_string(&split.link)
        .with_context(|| format!("reading {}", split.link.display()))?;
    let link = bundle::link_module(&generated, &chunk_files, &bundles)?;
    let wasm = fs::read(bindgen_dir.join(format!("{name}_bg.wasm")))?;
    // The build's name for its link module, as long as the placeholder:
    // from the main module and the link module, which names every chunk
    // and bundle (the glue's name is filled in below, and follows from
    // these two).
    let split_id = long_hash(&[wasm.as_slice(), link.as_bytes()].concat());
    let link_name = format!("./__wasm_split.{split_id}.js");
    let wasm = split::rename_in_wasm(&wasm, split::LINK_PLACEHOLDER, &link_name)?;
    let js = fs::read_to_string(bindgen_dir.join(format!("{name}.js")))?
        .replace(split::LINK_PLACEHOLDER, &link_name);
    let css = fs::read(&settings.style_file)
        .with_context(|| format!("reading {}", settings.style_file.display()))?;

    // What leptos preloads with a server-rendered page: its route's bundle.
    let routes: BTreeMap<String, Vec<String>> = bundles
        .iter()
        .map(|(route, bundle)| {
            let stem = bundle.file.strip_suffix(".wasm").unwrap_or(&bundle.file);
            (route.clone(), vec![stem.to_owned()])
        })
        .collect();

    let hashed_js = write_hashed(&pkg, name, "js", js.as_bytes())?;
    let link = link.replace(split::GLUE_PLACEHOLDER, &format!("./{name}.{hashed_js}.js"));
    let hashed = Hashed {
        js: hashed_js,
        wasm: write_hashed(&pkg, name, "wasm", &wasm)?,
        css: write_hashed(&pkg, name, "css", &css)?,
        split: split_id,
        routes,
        chunks: chunk_files.into_values().collect(),
    };
    write_with_gz(&pkg.join(hashed.link_module()), link.as_bytes())?;
    write_atomically(
        &pkg.join(hashed.manifest()),
        &serde_json::to_vec_pretty(&hashed.routes)?,
    )?;
    published.extend([
        format!("{name}.{}.js", hashed.js),
        format!("{name}.{}.wasm", hashed.wasm),
        format!("{name}.{}.css", hashed.css),
        hashed.link_module(),
        hashed.manifest(),
    ]);
    let snippets = bindgen_dir.join("snippets");
    if snippets.is_dir() {
        copy_dir(&snippets, &pkg.join("snippets"))?;
    }
    write_atomically(&settings.hash_file(), hashed.hash_file().as_bytes())?;
    keep_two_builds(&pkg, published)?;
    Ok(hashed)
}

/// A file's path in the package folder, and its content.
type FileToPublish = (PathBuf, Vec<u8>);

/// Each route's bundle of the chunks it needs (`chunks`: each chunk's
/// published name and content, by stem), and the bundles' files to publish,
/// named after their content.
fn bundle_routes(
    pkg: &Path,
    split: &Split,
    chunks: &BTreeMap<String, (String, Vec<u8>)>,
) -> anyhow::Result<(BTreeMap<String, Bundle>, Vec<FileToPublish>)> {
    let mut bundles = BTreeMap::new();
    let mut files = Vec::new();
    for (route, stems) in &split.needs {
        let mut bytes = Vec::new();
        let mut names = Vec::new();
        for stem in stems {
            let (file, content) = chunks
                .get(stem)
                .with_context(|| format!("{route} needs {stem}, which the split did not write"))?;
            bytes.push(content.as_slice());
            names.push(file.clone());
        }
        let content = bundle::pack(&bytes)?;
        let file = hashed_name(&format!("bundle{route}"), "wasm", &content);
        files.push((pkg.join(&file), content));
        bundles.insert(
            route.clone(),
            Bundle {
                file,
                chunks: names,
            },
        );
    }
    Ok((bundles, files))
}

/// `write_with_gz` for many files, on every core: compressing them is
/// most of publishing. Files already published under their content's
/// hash are left as they are.
fn write_all_with_gz(files: Vec<FileToPublish>) -> anyhow::Result<()> {
    let unpublished: Vec<_> = files
        .into_iter()
        .filter(|(path, _)| !is_published(path))
        .collect();
    on_every_core(unpublished, |(path, content)| {
        write_with_gz(&path, &content)
    })
}

/// 22 hex digits of the content's SHA-256: the length of the link module's
/// placeholder name.
fn long_hash(content: &[u8]) -> String {
    hex_digest(content, 11)
}

/// The first 16 hex digits of the content's SHA-256: enough that two
/// builds never collide, short enough to read in a URL.
pub fn content_hash(content: &[u8]) -> String {
    hex_digest(content, 8)
}

/// The first `bytes` bytes of the content's SHA-256, in hex.
fn hex_digest(content: &[u8], bytes: usize) -> String {
    Sha256::digest(content)[..bytes]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `<name>.<hash>.<ext>`, named after the content.
fn hashed_name(name: &str, ext: &str, content: &[u8]) -> String {
    format!("{name}.{}.{ext}", content_hash(content))
}

/// Writes `<name>.<hash>.<ext>` and its `.gz`; returns the hash. A file
/// already published under that name has that content, and compressing
/// takes seconds: it is left as it is.
fn write_hashed(dir: &Path, name: &str, ext: &str, content: &[u8]) -> anyhow::Result<String> {
    let path = dir.join(hashed_name(name, ext, content));
    if !is_published(&path) {
        write_with_gz(&path, content)?;
    }
    Ok(content_hash(content))
}

/// Whether a file and its `.gz` are in place (under a hashed name, with
/// that content).
fn is_published(path: &Path) -> bool {
    path.is_file() && gz_path(path).is_file()
}

fn write_with_gz(path: &Path, content: &[u8]) -> anyhow::Result<()> {
    write_atomically(path, content)?;
    write_atomically(&gz_path(path), &gzip(content)?)
}

fn gz_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".gz");
    PathBuf::from(name)
}

/// Gzip made with Zopfli: about 4 % smaller than `gzip -9` on the wasm,
/// readable by any gzip decoder. One iteration gives nearly all of it
/// (15, the default, another 0.2 % for four times the time).
pub fn gzip(content: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut gz = Vec::new();
    zopfli::compress(
        zopfli::Options {
            iteration_count: std::num::NonZeroU64::MIN,
            ..zopfli::Options::default()
        },
        zopfli::Format::Gzip,
        content,
        &mut gz,
    )?;
    Ok(gz)
}

/// A reader never sees half a file: the server may be serving the folder.
fn write_atomically(path: &Path, content: &[u8]) -> anyhow::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    fs::write(&partial, content).with_context(|| format!("writing {}", path.display()))?;
    fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Where the package folder lists the files of its last build.
const LAST_BUILD: &str = "last-build.txt";

/// Keeps the files of this build and of the one before, and removes the
/// rest: a tab opened before a deploy still finds the chunks of the pages
/// it has not shown yet, until the deploy after.
fn keep_two_builds(pkg: &Path, mut published: Vec<String>) -> anyhow::Result<()> {
    let record = pkg.join(LAST_BUILD);
    let before: Vec<String> = fs::read_to_string(&record)
        .map(|list| list.lines().map(str::to_owned).collect())
        .unwrap_or_default();
    let listed = published.join("\n");
    published.extend(before);
    published.push(LAST_BUILD.to_owned());
    remove_stale(pkg, &published)?;
    write_atomically(&record, listed.as_bytes())
}

/// Removes the package folder's files but those named (and their `.gz`).
fn remove_stale(pkg: &Path, published: &[String]) -> anyhow::Result<()> {
    for entry in fs::read_dir(pkg)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        let kept = published
            .iter()
            .any(|k| file_name == k || file_name.strip_suffix(".gz") == Some(k.as_str()));
        if !kept && entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Copies the files under `from` into `to`, leaving out dotfiles
/// (`public/.gitkeep`).
fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_sections_are_dropped_and_the_others_kept_as_they_were() {
        let type_section = [1u8, 1, 0x60];
        let custom = [0u8, 5, 4, b'n', b'a', b'm', b'e'];
        let header = b"\0asm\x01\0\0\0";
        let wasm = [header.as_slice(), &custom, &type_section].concat();
        let stripped = without_custom_sections(&wasm).unwrap();
        assert_eq!(stripped, [header.as_slice(), &type_section].concat());
        assert!(without_custom_sections(b"not wasm").is_err());
        assert!(without_custom_sections(&[header.as_slice(), &[1, 9, 0]].concat()).is_err());
    }

    #[test]
    fn the_hash_changes_with_the_content_and_only_with_it() {
        assert_eq!(content_hash(b"a"), content_hash(b"a"));
        assert_ne!(content_hash(b"a"), content_hash(b"b"));
        assert_eq!(content_hash(b"a").len(), 16);
    }

    #[test]
    fn publishing_names_files_after_their_content_and_drops_old_builds() {
        let dir = std::env::temp_dir().join(format!("xtask-site-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let bindgen_dir = dir.join("bindgen");
        let assets = dir.join("public");
        fs::create_dir_all(&bindgen_dir).unwrap();
        fs::create_dir_all(assets.join("img")).unwrap();
        fs::write(assets.join("img/logo.svg"), "<svg/>").unwrap();
        fs::write(assets.join(".gitkeep"), "").unwrap();
        fs::write(dir.join("main.css"), "body{}").unwrap();
        let settings = Settings {
            output_name: "app".into(),
            site_root: dir.join("site"),
            site_pkg_dir: "pkg".into(),
            style_file: dir.join("main.css"),
            assets_dir: assets,
            bin_package: "server".into(),
            lib_package: "frontend".into(),
            wasm_profile: "wasm-release".into(),
        };
        let split_dir = dir.join("split");
        fs::create_dir_all(&split_dir).unwrap();
        let link = split_dir.join("link.js");
        let chunk = split_dir.join("codes_route.wasm");
        let split = Split {
            main: split_dir.join("main.wasm"),
            link: link.clone(),
            chunks: BTreeMap::from([("codes_route".to_owned(), chunk.clone())]),
            needs: BTreeMap::from([("codes_route".to_owned(), vec!["codes_route".to_owned()])]),
        };
        let build = |js: &str| {
            fs::write(
                bindgen_dir.join("app.js"),
                format!("{js} {}", split::LINK_PLACEHOLDER),
            )
            .unwrap();
            let wasm = [b"\0asm".as_slice(), split::LINK_PLACEHOLDER.as_bytes()].concat();
            fs::write(bindgen_dir.join("app_bg.wasm"), wasm).unwrap();
            fs::write(
                &link,
                format!(
                    "import {{ initSync }} from \"{}\";\n\
                     export const __wasm_split_load_codes_route = wrapAsyncCb(makeLoad(() => {{\n\
                     const src = fetch(new URL(\"./codes_route.wasm\", import.meta.url));\n\
                     }}, []));\n",
                    split::GLUE_PLACEHOLDER
                ),
            )
            .unwrap();
            fs::write(&chunk, b"\0asm chunk").unwrap();
            publish(&settings, &bindgen_dir, &split).unwrap()
        };

        let first = build("one");
        let second = build("two");
        let pkg = settings.pkg_dir();
        // A tab of the first build still finds its files after the second;
        // the third removes them.
        assert!(pkg.join(format!("app.{}.js", first.js)).is_file());
        let third = build("three");
        assert!(!pkg.join(format!("app.{}.js", first.js)).exists());

        assert_ne!(second.js, third.js);
        assert_eq!(second.wasm, third.wasm);
        let mut files: Vec<String> = fs::read_dir(&pkg)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        let bundle_name = &third.routes["codes_route"][0];
        assert!(
            bundle_name.starts_with("bundlecodes_route."),
            "{bundle_name}"
        );
        let chunk_name = third.chunks[0].strip_suffix(".wasm").unwrap();
        assert!(chunk_name.starts_with("codes_route."), "{chunk_name}");
        let mut expected = vec![
            format!("app.{}.js", second.js),
            format!("app.{}.js.gz", second.js),
            format!("app.{}.css", third.css),
            format!("app.{}.css.gz", third.css),
            format!("app.{}.js", third.js),
            format!("app.{}.js.gz", third.js),
            format!("app.{}.wasm", third.wasm),
            format!("app.{}.wasm.gz", third.wasm),
            format!("{chunk_name}.wasm"),
            format!("{chunk_name}.wasm.gz"),
            format!("{bundle_name}.wasm"),
            format!("{bundle_name}.wasm.gz"),
            format!("__wasm_split.{}.js", third.split),
            format!("__wasm_split.{}.js.gz", third.split),
            format!("__wasm_split_manifest.{}.json", third.split),
            LAST_BUILD.to_owned(),
        ];
        expected.sort();
        assert_eq!(files, expected);
        let gz = fs::read(pkg.join(format!("app.{}.js.gz", third.js))).unwrap();
        let mut unzipped = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut unzipped)
            .unwrap();
        // The glue names the build's link module, and the link module the
        // glue and the chunk under their published names.
        let link_name = format!("./__wasm_split.{}.js", third.split);
        assert_eq!(unzipped, format!("three {link_name}"));
        let link = fs::read_to_string(pkg.join(&link_name[2..])).unwrap();
        assert!(
            link.contains(&format!("\"./app.{}.js\"", third.js)),
            "{link}"
        );
        assert!(
            link.contains(&format!("fetchChunk(\"{chunk_name}.wasm\")")),
            "{link}"
        );
        assert!(link.contains(&format!("\"{bundle_name}.wasm\"")), "{link}");
        let bundle = fs::read(pkg.join(format!("{bundle_name}.wasm"))).unwrap();
        assert_eq!(bundle, bundle::pack(&[b"\0asm chunk"]).unwrap());
        assert_eq!(
            fs::read_to_string(settings.hash_file()).unwrap(),
            format!(
                "js: {}\nwasm: {}\ncss: {}\nsplit: {}\nmanifest: {}\n",
                third.js, third.wasm, third.css, third.split, third.split
            )
        );
        assert!(settings.site_root.join("img/logo.svg").is_file());
        assert!(!settings.site_root.join(".gitkeep").exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
