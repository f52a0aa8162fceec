//! `/webhooks/:id/deliveries/:delivery_id`: one delivery, the event it
//! carries exactly as sent, every attempt with the request headers and the
//! receiver's answer, and (for managers) "Replay", which works without
//! JavaScript (the server answers with a redirect back here).
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::log::StatusBadge;
use super::{load_error, parse_id, RequestHeaders};
use crate::api::webhooks::{get_delivery, ReplayDelivery};
use crate::model::webhooks::{AttemptOut, AttemptOutcome, DeliveryDetail};
use crate::model::Permission;
use crate::ui::actions::form_action;
use crate::ui::codes::Viewer;
use crate::ui::components::{action_error, DateTime, FormError, SubmitButton};
use crate::ui::resource::page_resource;

#[component]
pub fn WebhookDeliveryPage() -> impl IntoView {
    let params = use_params_map();
    let ids = Memo::new(move |_| {
        let params = params.read();
        Ok::<_, crate::model::AppError>((
            parse_id(params.get("id"))?,
            parse_id(params.get("delivery_id"))?,
        ))
    });
    let replay = form_action::<ReplayDelivery>();
    let detail = page_resource(
        move || ids.get(),
        |ids| async move {
            let (endpoint_id, id) = ids?;
            get_delivery(endpoint_id, id).await
        },
    );
    view! {
        <Title text="Webhook delivery · Codebook"/>
        <main class="page">
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let viewer = Viewer::load().await;
                    match detail.await {
                        Ok(detail) => view! {
                            <DeliveryView detail manage=viewer.can(Permission::ManageWebhooks) replay/>
                        }
                            .into_any(),
                        Err(e) => load_error(e),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn DeliveryView(
    detail: DeliveryDetail,
    manage: bool,
    replay: ServerAction<ReplayDelivery>,
) -> impl IntoView {
    let delivery = detail.delivery;
    let back = format!("/webhooks/{}", delivery.endpoint_id);
    let replayable = delivery.status.replayable();
    view! {
        <p><a href=back>{format!("← {}", detail.endpoint_url)}</a></p>
        <h1>{format!("Delivery of {}", delivery.event_type)}</h1>
        <dl class="values" data-testid="delivery-summary">
            <dt>"Status"</dt>
            <dd><StatusBadge status=delivery.status/></dd>
            <dt>"Webhook id"</dt>
            <dd class="mono">{delivery.message_id.clone()}</dd>
            <dt>"Attempts"</dt>
            <dd>{delivery.attempts}</dd>
            {delivery.next_attempt_at.map(|at| view! { <dt>"Next attempt"</dt><dd><DateTime at/></dd> })}
            <dt>"Created"</dt>
            <dd><DateTime at=delivery.created_at/></dd>
        </dl>
        {manage.then(|| view! {
            <ActionForm action=replay attr:class="inline">
                <FormError error=action_error(replay)/>
                <input type="hidden" name="endpoint_id" value=delivery.endpoint_id.to_string()/>
                <input type="hidden" name="id" value=delivery.id.to_string()/>
                {if replayable {
                    view! { <SubmitButton label="Replay" pending_label="Queuing…" pending=replay.pending()/> }.into_any()
                } else {
                    view! { <button type="submit" disabled>"Replay"</button> <span class="field-hint">" It is on its way already."</span> }.into_any()
                }}
            </ActionForm>
        })}
        <section aria-labelledby="payload-heading">
            <h2 id="payload-heading">"Payload"</h2>
            <pre class="payload" data-testid="delivery-payload">{detail.payload}</pre>
        </section>
        <section aria-labelledby="attempts-heading">
            <h2 id="attempts-heading">"Attempts"</h2>
            {if detail.attempts.is_empty() {
                view! { <p class="notice" role="status">"Not tried yet."</p> }.into_any()
            } else {
                detail.attempts.into_iter().map(|attempt| view! { <AttemptView attempt/> }).collect_view().into_any()
            }}
        </section>
    }
}

#[component]
fn AttemptView(attempt: AttemptOut) -> impl IntoView {
    let (duration, status) = attempt_answer(&attempt);
    view! {
        <article class="panel attempt" data-testid="attempt" data-outcome=attempt.outcome.as_str()>
            <h3>{format!("Attempt {}: {}", attempt.attempt, attempt.outcome.label())}</h3>
            <dl class="values">
                <dt>"Started"</dt>
                <dd><DateTime at=attempt.started_at/></dd>
                <dt>"Duration"</dt>
                <dd>{duration}</dd>
                <dt>"Response"</dt>
                <dd>{status}</dd>
            </dl>
            {attempt.error.map(|e| view! { <p class="field-error">{e}</p> })}
            <h4>"Request headers"</h4>
            <RequestHeaders headers=attempt.request_headers/>
            {attempt.response_body.map(|body| view! { <h4>"Response body"</h4> <pre class="payload">{body}</pre> })}
        </article>
    }
}

/// How long an attempt took and what came back, in words; neither is known
/// for one still on the wire or cut off with its worker.
fn attempt_answer(attempt: &AttemptOut) -> (String, String) {
    match attempt.outcome {
        AttemptOutcome::Sending => ("—".to_owned(), "Waiting for the answer".to_owned()),
        AttemptOutcome::Interrupted => ("—".to_owned(), "Not recorded".to_owned()),
        AttemptOutcome::Succeeded | AttemptOutcome::Failed => (
            format!("{} ms", attempt.duration_ms),
            attempt
                .status_code
                .map(|code| format!("HTTP {code}"))
                .unwrap_or_else(|| "No response".to_owned()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(outcome: AttemptOutcome, status_code: Option<i32>) -> AttemptOut {
        AttemptOut {
            attempt: 1,
            started_at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
            duration_ms: 12,
            status_code,
            response_body: None,
            error: None,
            request_headers: Vec::new(),
            succeeded: outcome == AttemptOutcome::Succeeded,
            outcome,
        }
    }

    #[test]
    fn an_attempt_says_its_duration_and_answer_once_it_has_them() {
        assert_eq!(
            attempt_answer(&attempt(AttemptOutcome::Succeeded, Some(204))),
            ("12 ms".to_owned(), "HTTP 204".to_owned())
        );
        assert_eq!(
            attempt_answer(&attempt(AttemptOutcome::Failed, None)),
            ("12 ms".to_owned(), "No response".to_owned())
        );
        assert_eq!(
            attempt_answer(&attempt(AttemptOutcome::Interrupted, None)).1,
            "Not recorded"
        );
        assert_eq!(
            attempt_answer(&attempt(AttemptOutcome::Sending, None)).1,
            "Waiting for the answer"
        );
    }
}
