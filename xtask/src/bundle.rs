//! A page's first load in one response. Splitting gives each route its own
//! chunk plus the small chunks it shares with other routes: a code's page
//! needs 160 of them. Fetched one by one, each is a request and a gzip
//! stream of its own, and together they weigh a third more than the same
//! bytes compressed as one. So each route also gets a bundle of every chunk
//! it needs; the server preloads the bundle of the page it renders, and the
//! link module takes the first route's chunks out of it. Later routes fetch
//! only the chunks not loaded yet, one by one, as the splitter made them.
//!
//! A bundle is `count` (u32, little-endian), the `count` chunk lengths (u32
//! each), then the chunks' bytes in the order the link module lists them.

use std::collections::BTreeMap;

use anyhow::{bail, ensure};

/// One route's bundle as published.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The bundle's file name in the package folder.
    pub file: String,
    /// The published file names of its chunks, in the bundle's order.
    pub chunks: Vec<String>,
}

/// The bytes of a bundle of `chunks`.
pub fn pack(chunks: &[&[u8]]) -> anyhow::Result<Vec<u8>> {
    let count = u32::try_from(chunks.len())?;
    let mut out = count.to_le_bytes().to_vec();
    for chunk in chunks {
        out.extend_from_slice(&u32::try_from(chunk.len())?.to_le_bytes());
    }
    for chunk in chunks {
        out.extend_from_slice(chunk);
    }
    Ok(out)
}

/// The splitter's link module, changed to fetch chunks through the first
/// route's bundle and under their published names. `published` maps each
/// chunk's stem to its published file name; `bundles` each route (its split
/// name) to its bundle.
pub fn link_module(
    generated: &str,
    published: &BTreeMap<String, String>,
    bundles: &BTreeMap<String, Bundle>,
) -> anyhow::Result<String> {
    let Some((import, rest)) = generated.split_once('\n') else {
        bail!("the link module has no import line");
    };
    ensure!(
        import.starts_with("import "),
        "the link module does not start with its import: {import}"
    );
    let mut body = rest.to_owned();
    for (stem, file) in published {
        let fetch = format!("fetch(new URL(\"./{stem}.wasm\", import.meta.url))");
        ensure!(
            body.contains(&fetch),
            "the link module does not fetch {stem} as expected"
        );
        body = body.replace(&fetch, &format!("fetchChunk({file:?})"));
    }
    let mut exports = String::new();
    for (route, bundle) in bundles {
        let export = format!("export const __wasm_split_load_{route} = ");
        ensure!(
            body.contains(&export),
            "the link module does not export the loader of {route}"
        );
        body = body.replace(&export, &format!("const __load_{route} = "));
        exports.push_str(&format!(
            "export const __wasm_split_load_{route} = firstLoadBundled(__load_{route}, {:?}, {});\n",
            bundle.file,
            serde_json::to_string(&bundle.chunks)?,
        ));
    }
    Ok(format!("{import}\n{LOADER}{body}\n{exports}"))
}

/// What the link module gains: the first route's bundle, chunks taken from
/// it when it holds them (from the network otherwise, also when the bundle
/// could not be fetched), and a reload when a chunk is gone.
const LOADER: &str = r#"
let firstBundle = undefined;
function firstLoadBundled(load, file, chunks) {
    return (...args) => {
        if (firstBundle === undefined) {
            firstBundle = fetchBundle(file, chunks);
            firstBundle.catch(() => {});
        }
        return load(...args);
    };
}
async function fetchBundle(file, chunks) {
    const response = await fetch(new URL("./" + file, import.meta.url));
    if (!response.ok) {
        throw new Error(`${file}: ${response.status}`);
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    const header = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (header.getUint32(0, true) !== chunks.length) {
        throw new Error(`${file} does not hold ${chunks.length} chunks`);
    }
    const found = new Map();
    let at = 4 + 4 * chunks.length;
    chunks.forEach((chunk, i) => {
        const length = header.getUint32(4 + 4 * i, true);
        found.set(chunk, bytes.subarray(at, at + length));
        at += length;
    });
    return found;
}
function fetchChunk(file) {
    const url = new URL("./" + file, import.meta.url);
    if (firstBundle === undefined) {
        return fetchOrReload(url);
    }
    const wasm = { headers: { "content-type": "application/wasm" } };
    return firstBundle.then(
        (found) => (found.has(file) ? new Response(found.get(file), wasm) : fetchOrReload(url)),
        () => fetchOrReload(url),
    );
}
// A chunk that is gone belongs to a build the server no longer keeps (the
// tab outlived two deploys): the page the app was going to (the router
// marks it on <html data-route>) is loaded from the server, with the build
// it has now. Once per address, so a file missing for another reason
// cannot load the page forever.
async function fetchOrReload(url) {
    const response = await fetch(url);
    const going = new URL(document.documentElement.dataset.route ?? "", location.href).href;
    const key = "codebook.loadedForMissingWasm";
    if (response.status === 404 && sessionStorage.getItem(key) !== going) {
        sessionStorage.setItem(key, going);
        location.assign(going);
        return new Promise(() => {});
    }
    return response;
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_lists_its_chunks_lengths_then_their_bytes() {
        let packed = pack(&[b"ab", b"cde"]).unwrap();
        assert_eq!(
            packed,
            [
                2u32.to_le_bytes().as_slice(),
                &2u32.to_le_bytes(),
                &3u32.to_le_bytes(),
                b"abcde"
            ]
            .concat()
        );
    }

    const GENERATED: &str = r#"import { initSync } from "./glue.js";
function makeLoad(fetcher, deps) { return fetcher; }
const __chunk_1 = makeLoad(() => {
    const src = fetch(new URL("./chunk_1.wasm", import.meta.url));
}, []);
export const __wasm_split_load_codes = wrapAsyncCb(makeLoad(() => {
    const src = fetch(new URL("./split_codes.wasm", import.meta.url));
}, [__chunk_1]));
"#;

    fn published() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("chunk_1".to_owned(), "chunk_1.aa.wasm".to_owned()),
            ("split_codes".to_owned(), "split_codes.bb.wasm".to_owned()),
        ])
    }

    #[test]
    fn the_link_module_fetches_published_chunks_through_the_first_routes_bundle() {
        let bundles = BTreeMap::from([(
            "codes".to_owned(),
            Bundle {
                file: "bundle_codes.cc.wasm".to_owned(),
                chunks: vec![
                    "chunk_1.aa.wasm".to_owned(),
                    "split_codes.bb.wasm".to_owned(),
                ],
            },
        )]);
        let link = link_module(GENERATED, &published(), &bundles).unwrap();
        assert!(
            link.starts_with("import { initSync } from \"./glue.js\";\n"),
            "{link}"
        );
        assert!(link.contains("fetchChunk(\"chunk_1.aa.wasm\")"), "{link}");
        assert!(
            link.contains("fetchChunk(\"split_codes.bb.wasm\")"),
            "{link}"
        );
        assert!(!link.contains("new URL(\"./chunk_1.wasm\""), "{link}");
        assert!(link.contains("const __load_codes = wrapAsyncCb("), "{link}");
        assert!(
            link.contains(
                "export const __wasm_split_load_codes = firstLoadBundled(__load_codes, \
                 \"bundle_codes.cc.wasm\", [\"chunk_1.aa.wasm\",\"split_codes.bb.wasm\"]);"
            ),
            "{link}"
        );
        assert_eq!(
            link.matches("export const __wasm_split_load_codes").count(),
            1
        );
    }

    #[test]
    fn a_link_module_of_another_shape_is_refused_rather_than_half_rewritten() {
        let unknown_chunk = BTreeMap::from([("chunk_9".to_owned(), "chunk_9.aa.wasm".to_owned())]);
        assert!(link_module(GENERATED, &unknown_chunk, &BTreeMap::new()).is_err());
        let unknown_route = BTreeMap::from([(
            "members".to_owned(),
            Bundle {
                file: "b.wasm".to_owned(),
                chunks: vec![],
            },
        )]);
        assert!(link_module(GENERATED, &published(), &unknown_route).is_err());
        assert!(link_module("no import", &published(), &BTreeMap::new()).is_err());
    }
}
