//! The size budget of the hydrate wasm, gzipped as browsers download it:
//! no page works before it has arrived. The one place the budget is set;
//! a test fails the test command when the published wasm grows past it.
//!
//! Issue #12's figure: 300 KB. Since stop 21 the pages are rendered by the
//! server and only islands hydrate (121,943 bytes measured; 717,845 when
//! every page hydrated, 1,163,062 before stop 19).

use anyhow::Context;

use crate::settings::Settings;
use crate::site::Hashed;

pub const WASM_GZIP_BUDGET: u64 = 300_000;

/// The size of the published wasm's `.gz`.
pub fn wasm_gzip_size(settings: &Settings, hashed: &Hashed) -> anyhow::Result<u64> {
    let gz = hashed.wasm_gz(settings);
    Ok(gz
        .metadata()
        .with_context(|| format!("reading {}", gz.display()))?
        .len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::workspace_root;

    /// Runs after `cargo xtask build` in the test command.
    #[test]
    fn the_published_wasm_fits_its_budget() {
        let settings = Settings::load(&workspace_root()).unwrap();
        let published = Hashed::read(&settings).unwrap();
        let size = wasm_gzip_size(&settings, &published).unwrap();
        assert!(
            size <= WASM_GZIP_BUDGET,
            "the gzipped hydrate wasm is {size} bytes, over its budget of {WASM_GZIP_BUDGET} \
             (xtask/src/budget.rs)"
        );
    }
}
