//! Logging and tracing: `tracing` to stdout (text or JSON), and, when an OTLP
//! endpoint is configured, spans exported with `tracing-opentelemetry`. W3C trace
//! context is read from incoming requests and written into event metadata, so one
//! trace follows a command from HTTP through the store and NATS to its read model.

use std::collections::HashMap;

use anyhow::Context as _;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::Settings;

/// Flushes exported spans when dropped at shutdown.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(error) = provider.shutdown() {
                eprintln!("flushing traces failed: {error}");
            }
        }
    }
}

/// Installs the global subscriber. Call once, from `main`.
pub fn init(settings: &Settings) -> anyhow::Result<TelemetryGuard> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.log_filter))
        .context("parsing the log filter")?;
    let fmt = match settings.log_format.as_str() {
        // Logs go to stderr: stdout carries only the `listening on` line.
        "json" => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
        _ => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
    ]));
    let (otel, provider) = if settings.otlp_endpoint.is_empty() {
        (None, None)
    } else {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(settings.otlp_endpoint.clone())
            .build()
            .context("building the OTLP exporter")?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name("licensing-ledger")
                    .build(),
            )
            .build();
        let tracer = provider.tracer("licensing-ledger");
        (
            Some(tracing_opentelemetry::layer().with_tracer(tracer)),
            Some(provider),
        )
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()
        .context("installing the tracing subscriber")?;
    Ok(TelemetryGuard { provider })
}

/// Makes `span` a child of the trace context in `headers`, if they carry one.
pub fn continue_trace(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    if let Some(traceparent) = incoming_traceparent(headers) {
        continue_trace_from(&traceparent, span);
    }
}

/// Makes `span` a child of a W3C `traceparent`. The projector calls this with the
/// header of each message, so a command's trace ends at its read model.
pub fn continue_trace_from(traceparent: &str, span: &tracing::Span) {
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let parent =
        opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&carrier));
    // Without an OpenTelemetry layer there is nothing to attach to; that is fine.
    let _ = span.set_parent(parent);
}

/// The request's `traceparent` header, if it is well-formed W3C trace context
/// (`00-<32 hex>-<16 hex>-<2 hex>`, ids not all zero).
pub fn incoming_traceparent(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers.get("traceparent")?.to_str().ok()?;
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |part: &str, len: usize| {
        part.len() == len && part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let well_formed = parts.len() == 4
        && parts[0] == "00"
        && hex(parts[1], 32)
        && hex(parts[2], 16)
        && hex(parts[3], 2)
        && parts[1].bytes().any(|b| b != b'0')
        && parts[2].bytes().any(|b| b != b'0');
    well_formed.then(|| value.to_owned())
}

/// The current span's W3C `traceparent`, when tracing is exported.
pub fn current_traceparent() -> Option<String> {
    use opentelemetry::trace::TraceContextExt as _;
    if !tracing::Span::current()
        .context()
        .span()
        .span_context()
        .is_valid()
    {
        return None;
    }
    let context = tracing::Span::current().context();
    let mut carrier: HashMap<String, String> = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut carrier)
    });
    carrier.remove("traceparent")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(traceparent: &str) -> axum::http::HeaderMap {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("traceparent", traceparent.parse().unwrap());
        headers
    }

    #[test]
    fn only_well_formed_trace_context_is_taken_from_a_request() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(incoming_traceparent(&headers(good)).as_deref(), Some(good));
        for bad in [
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "nonsense",
        ] {
            assert_eq!(incoming_traceparent(&headers(bad)), None, "{bad}");
        }
    }
}
