//! The resources pages load their data with: loaded by the server as it
//! renders the page, sent to the browser in the page as JSON, and loaded
//! again from the browser when their source or the data version
//! (`ui::actions`) changes. Leptos's own codec parses JSON from a `&str`
//! and server functions parse from bytes, so a wasm using both held two
//! copies of a type's JSON parser. This codec parses from bytes as well:
//! one copy.
use codee::{Decoder, Encoder};
use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// JSON, parsed from bytes.
pub struct Json;

impl<T: Serialize> Encoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(text: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(text.as_bytes())
    }
}

/// A page's data: loaded on the server, carried to the browser in the page.
pub type PageResource<T> = Resource<T, Json>;

/// `Resource::new` with the codec above, loaded again after any form of
/// the app answered and after someone else changed the organization's data.
#[track_caller]
pub fn page_resource<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> PageResource<T>
where
    S: Send + Sync + Clone + PartialEq + 'static,
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    held_page_resource(
        move || (source(), crate::ui::actions::live_version()),
        move |(source, _)| fetcher(source),
    )
}

/// A page resource that does not follow others' changes: the page decides
/// when to load it again (through `source`), as it may be holding what
/// someone typed.
#[track_caller]
pub fn held_page_resource<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> PageResource<T>
where
    S: Send + Sync + Clone + PartialEq + 'static,
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(
        move || (source(), crate::ui::actions::data_version()),
        move |(source, _)| fetcher(source),
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_comes_back_as_it_went() {
        let text = <Json as Encoder<Vec<(String, u32)>>>::encode(&vec![("é".into(), 7)]).unwrap();
        let back: Vec<(String, u32)> = <Json as Decoder<_>>::decode(&text).unwrap();
        assert_eq!(back, vec![("é".to_owned(), 7)]);
        assert!(<Json as Decoder<u32>>::decode("\"x\"").is_err());
    }
}
