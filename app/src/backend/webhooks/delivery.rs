//! One attempt at delivering one event to one endpoint: the signed
//! request, what came back, and what happens next (done, retry when, dead,
//! or the endpoint is gone).
use chrono::{DateTime, Duration, Utc};
use rand::Rng as _;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use std::time::Instant;

use super::secrets::SigningSecret;
use super::signing;
use super::ssrf::Guard;
use crate::model::webhooks::DeliveryStatus;

/// Who is knocking, for the receiver's logs.
pub const USER_AGENT_VALUE: &str = concat!("Codebook-Webhooks/", env!("CARGO_PKG_VERSION"));
/// What an attempt keeps of the receiver's answer.
const KEPT_BODY_BYTES: usize = 4 * 1024;
/// Read at most this much of an answer; the rest is not waited for.
const READ_BODY_BYTES: usize = 64 * 1024;
/// The pauses before each retry: about 5 s, 5 min, 30 min, 2 h, 5 h, then
/// 10 h for every retry after that.
const SCHEDULE_SECONDS: [i64; 6] = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600];
/// A receiver's `Retry-After` is honoured within these bounds: no sooner
/// than the first retry, no later than the schedule's longest pause (a
/// receiver cannot park a delivery for days).
const MIN_RETRY_AFTER: Duration = Duration::seconds(SCHEDULE_SECONDS[0]);
const MAX_RETRY_AFTER: Duration = Duration::seconds(SCHEDULE_SECONDS[SCHEDULE_SECONDS.len() - 1]);

/// What is sent: the same bytes to the same URL on every attempt.
pub struct Outgoing<'a> {
    pub url: &'a str,
    pub timeout: std::time::Duration,
    pub message_id: &'a str,
    pub body: &'a [u8],
    /// The current secret first; during a rotation the previous one too.
    pub secrets: &'a [SigningSecret],
}

/// What an attempt found.
#[derive(Debug, Clone)]
pub struct Sent {
    pub duration_ms: i32,
    pub status_code: Option<u16>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub retry_after: Option<Duration>,
    pub request_headers: Vec<(String, String)>,
}

impl Sent {
    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Sends `out` once. Never fails: a refused address, a timeout or a broken
/// connection is an attempt with an error.
pub async fn send(client: &reqwest::Client, guard: &Guard, out: &Outgoing<'_>) -> Sent {
    // The timestamp of this attempt, on the wall clock the receiver checks.
    let timestamp = Utc::now().timestamp();
    let headers = request_headers(out, timestamp);
    let request_headers = headers
        .iter()
        .map(|(name, value)| {
            (
                name.to_string(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let started = Instant::now();
    let result = post(client, guard, out, headers).await;
    let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    match result {
        Ok((status, retry_after, body)) => Sent {
            duration_ms,
            status_code: Some(status),
            response_body: Some(body),
            error: None,
            retry_after,
            request_headers,
        },
        Err(error) => Sent {
            duration_ms,
            status_code: None,
            response_body: None,
            error: Some(printable(&error)),
            retry_after: None,
            request_headers,
        },
    }
}

fn request_headers(out: &Outgoing<'_>, timestamp: i64) -> HeaderMap {
    let signature = signing::signature_header(out.secrets, out.message_id, timestamp, out.body);
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    put("webhook-id", out.message_id.to_owned());
    put("webhook-timestamp", timestamp.to_string());
    put("webhook-signature", signature);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    headers
}

async fn post(
    client: &reqwest::Client,
    guard: &Guard,
    out: &Outgoing<'_>,
    headers: HeaderMap,
) -> Result<(u16, Option<Duration>, String), String> {
    let url = guard
        .parse(out.url)
        .map_err(|refusal| refusal.to_string())?;
    // reqwest asks the guard's resolver for host names, but connects to an
    // address literal directly: judge that here.
    if matches!(url.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_))) {
        guard
            .resolve(&url)
            .await
            .map_err(|refusal| refusal.to_string())?;
    }
    let mut response = client
        .post(url)
        .headers(headers)
        .timeout(out.timeout)
        .body(out.body.to_vec())
        .send()
        .await
        .map_err(describe_reqwest_error)?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, Utc::now()));
    let mut body = Vec::new();
    while body.len() < READ_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            // The status is what counts; a broken body is kept as far as it came.
            Err(_) => break,
        }
    }
    body.truncate(KEPT_BODY_BYTES);
    Ok((
        status,
        retry_after,
        printable(&String::from_utf8_lossy(&body)),
    ))
}

/// The error and its causes (reqwest hides the useful part in `source`).
fn describe_reqwest_error(error: reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Text PostgreSQL can store: no NUL characters.
fn printable(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

/// `Retry-After` as seconds or an HTTP date, as a pause from `now`.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<i64>() {
        // Clamped first: `Duration::seconds` panics past ±2^63 ms, and a
        // receiver chooses this number. A year is far beyond any cap.
        return Some(Duration::seconds(seconds.clamp(0, 365 * 86_400)));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).max(Duration::zero()))
}

/// The pause before retry `n` (1 for the first), ±20 % so that deliveries
/// failed together do not all come back together; `jitter` is in [-1, 1].
pub fn retry_delay(n: i32, jitter: f64) -> Duration {
    let index = usize::try_from(n.max(1) - 1).unwrap_or(0);
    let base = SCHEDULE_SECONDS[index.min(SCHEDULE_SECONDS.len() - 1)] as f64;
    Duration::milliseconds((base * 1000.0 * (1.0 + 0.2 * jitter.clamp(-1.0, 1.0))) as i64)
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Succeeded,
    RetryAt(DateTime<Utc>),
    /// Every try of this round failed: dead-lettered until replayed.
    Dead,
    /// 410 Gone: the receiver says the endpoint no longer exists.
    Gone,
}

impl Verdict {
    /// After try number `tries` of a round that allows `max_retries`
    /// retries, made at `now`.
    pub fn judge(sent: &Sent, tries: i32, max_retries: i32, now: DateTime<Utc>) -> Self {
        Self::judge_with_jitter(
            sent,
            tries,
            max_retries,
            now,
            rand::thread_rng().gen_range(-1.0..=1.0),
        )
    }

    pub fn judge_with_jitter(
        sent: &Sent,
        tries: i32,
        max_retries: i32,
        now: DateTime<Utc>,
        jitter: f64,
    ) -> Self {
        if sent.succeeded() {
            return Verdict::Succeeded;
        }
        if sent.status_code == Some(410) {
            return Verdict::Gone;
        }
        if tries > max_retries {
            return Verdict::Dead;
        }
        let pause = match sent.retry_after {
            Some(asked) => asked.clamp(MIN_RETRY_AFTER, MAX_RETRY_AFTER),
            None => retry_delay(tries, jitter),
        };
        Verdict::RetryAt(now + pause)
    }

    pub fn status(self) -> DeliveryStatus {
        match self {
            Verdict::Succeeded => DeliveryStatus::Succeeded,
            Verdict::RetryAt(_) => DeliveryStatus::Retrying,
            Verdict::Dead | Verdict::Gone => DeliveryStatus::Dead,
        }
    }

    pub fn next_attempt_at(self) -> Option<DateTime<Utc>> {
        match self {
            Verdict::RetryAt(at) => Some(at),
            _ => None,
        }
    }

    /// The `result` label of the deliveries metric.
    pub fn metric_label(self) -> &'static str {
        match self {
            Verdict::Succeeded => "succeeded",
            Verdict::RetryAt(_) => "retrying",
            Verdict::Dead => "dead",
            Verdict::Gone => "gone",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absurd_retry_after_is_clamped_not_a_panic() {
        let now = Utc::now();
        for value in ["9223372036854775807", "99999999999999999", "-5"] {
            let pause = parse_retry_after(value, now).unwrap();
            assert!(
                pause >= Duration::zero() && pause <= Duration::days(365),
                "{value}"
            );
        }
    }

    fn answered(status: u16, retry_after: Option<Duration>) -> Sent {
        Sent {
            duration_ms: 1,
            status_code: Some(status),
            response_body: None,
            error: None,
            retry_after,
            request_headers: vec![],
        }
    }

    #[test]
    fn the_schedule_runs_from_five_seconds_to_ten_hours() {
        let secs = |n| retry_delay(n, 0.0).num_seconds();
        assert_eq!(
            (1..=8).map(secs).collect::<Vec<_>>(),
            [5, 300, 1800, 7200, 18000, 36000, 36000, 36000]
        );
        assert_eq!(retry_delay(2, 1.0).num_seconds(), 360);
        assert_eq!(retry_delay(2, -1.0).num_seconds(), 240);
    }

    #[test]
    fn two_hundreds_succeed_and_410_means_gone() {
        let now = Utc::now();
        assert_eq!(
            Verdict::judge(&answered(204, None), 1, 8, now),
            Verdict::Succeeded
        );
        assert_eq!(
            Verdict::judge(&answered(410, None), 1, 8, now),
            Verdict::Gone
        );
    }

    #[test]
    fn redirects_client_and_server_errors_retry_until_the_allowance_is_spent() {
        let now = Utc::now();
        for status in [301, 302, 400, 404, 429, 500, 503] {
            assert_eq!(
                Verdict::judge_with_jitter(&answered(status, None), 1, 8, now, 0.0),
                Verdict::RetryAt(now + Duration::seconds(5)),
                "{status}"
            );
        }
        assert!(matches!(
            Verdict::judge(&answered(500, None), 8, 8, now),
            Verdict::RetryAt(_)
        ));
        assert_eq!(
            Verdict::judge(&answered(500, None), 9, 8, now),
            Verdict::Dead
        );
        assert_eq!(
            Verdict::judge(&answered(500, None), 1, 0, now),
            Verdict::Dead
        );
    }

    #[test]
    fn retry_after_is_honoured_within_bounds() {
        let now = Utc::now();
        let asked = |d| Verdict::judge(&answered(503, Some(d)), 1, 8, now);
        assert_eq!(
            asked(Duration::seconds(120)),
            Verdict::RetryAt(now + Duration::seconds(120))
        );
        assert_eq!(
            asked(Duration::zero()),
            Verdict::RetryAt(now + Duration::seconds(5))
        );
        assert_eq!(
            asked(Duration::days(30)),
            Verdict::RetryAt(now + Duration::hours(10))
        );
        assert_eq!(
            asked(Duration::hours(11)),
            Verdict::RetryAt(now + Duration::hours(10))
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("120", now), Some(Duration::seconds(120)));
        assert_eq!(
            parse_retry_after("Mon, 23 Nov 2026 12:01:00 GMT", now),
            Some(Duration::seconds(60))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn a_timeout_or_refused_connection_is_a_failure() {
        let sent = Sent {
            status_code: None,
            error: Some("timed out".into()),
            ..answered(0, None)
        };
        assert!(!sent.succeeded());
        assert!(matches!(
            Verdict::judge(&sent, 1, 8, Utc::now()),
            Verdict::RetryAt(_)
        ));
    }
}
