//! `sqlx::migrate!` embeds `../migrations` when the crate compiles; cargo
//! does not know that folder is an input, so a new migration alone would
//! not rebuild the server that must run it.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
