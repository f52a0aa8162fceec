//! `/dev/mail`: the mail outbox of a development instance.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::dev::{dev_mail, OutboxMail};
use crate::ui::components::Loaded;
use crate::ui::resource::page_resource;

#[component]
pub fn DevMailPage() -> impl IntoView {
    let mails = page_resource(|| (), |_| dev_mail());
    view! {
        <Title text="Mail outbox · Codebook"/>
        <main class="page">
            <h1>"Mail outbox"</h1>
            <p class="lead">"Mail this development instance would have sent, newest first."</p>
            <Loaded resource=mails let:list>
                <MailList list/>
            </Loaded>
        </main>
    }
}

#[component]
fn MailList(list: Vec<OutboxMail>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p>"No mail yet."</p> }.into_any();
    }
    list.into_iter()
        .map(|m| {
            view! {
                <article class="mail" data-to=m.to.clone()>
                    <h2>{m.subject}</h2>
                    <p class="muted">{format!("To: {}", m.to)}</p>
                    <MailBody body=m.body/>
                </article>
            }
        })
        .collect_view()
        .into_any()
}

/// The body with its links made clickable.
#[component]
fn MailBody(body: String) -> impl IntoView {
    body.lines()
        .map(|line| {
            let line = line.trim().to_owned();
            if line.starts_with("http://") || line.starts_with("https://") {
                let href = line.clone();
                view! { <p><a href=href>{line}</a></p> }.into_any()
            } else {
                view! { <p>{line}</p> }.into_any()
            }
        })
        .collect_view()
}
