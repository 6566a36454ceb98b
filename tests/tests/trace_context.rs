//! A command's W3C trace context travels with its events: from the HTTP request
//! into the event's metadata and onto its NATS message; and with an OTLP endpoint
//! configured, one trace runs from the request through the append and the relay's
//! publish to the projector's apply, as a collector (served by the test over
//! OTLP/gRPC) receives it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use tonic::transport::server::TcpIncoming;

use ledger_tests::{
    ledger_bin, purchase_body, stream_messages, wait_until_projected, Api, Ledger, TestEnv,
};

#[tokio::test]
async fn the_callers_trace_context_reaches_the_event_stream() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let response = api
        .request(reqwest::Method::POST, "/licenses")
        .header("traceparent", traceparent)
        .header("x-request-id", "req-42")
        .json(&purchase_body(None))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-request-id"], "req-42");
    let malformed = api
        .request(reqwest::Method::POST, "/licenses")
        .header("traceparent", "00-not-a-trace-01")
        .json(&purchase_body(None))
        .send()
        .await
        .unwrap();
    assert_eq!(
        malformed.status(),
        201,
        "a bad traceparent is ignored, not fatal"
    );

    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();
    let messages = stream_messages(&env.jetstream().await, &env.stream).await;
    assert_eq!(messages.len(), 2);
    let header = |index: usize, name: &str| {
        messages[index]
            .headers
            .get(name)
            .map(|value| value.to_string())
    };
    let carried = header(0, "traceparent").unwrap();
    assert_eq!(
        &carried[3..35],
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "same trace id"
    );
    assert_eq!(header(0, "Ledger-Request-Id").as_deref(), Some("req-42"));
    // The actor is the token's subject.
    assert_eq!(header(0, "Ledger-Actor").as_deref(), Some("test-portal"));
    assert_eq!(header(1, "traceparent"), None);
    drop(ledger);
    env.cleanup().await;
}

/// The spans a ledger exported, as an OTLP collector receives them.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|resource| resource.scope_spans)
            .flat_map(|scope| scope.spans);
        self.spans.lock().unwrap().extend(spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Collector {
    /// Serves OTLP/gRPC on a free port; returns its endpoint.
    fn serve(&self) -> String {
        let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let endpoint = format!("http://{}", incoming.local_addr().unwrap());
        let service = TraceServiceServer::new(self.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(incoming),
        );
        endpoint
    }

    /// The first span named `name` in trace `trace_id`, once it has arrived.
    async fn span(&self, trace_id: &[u8], name: &str) -> Span {
        let started = tokio::time::Instant::now();
        loop {
            let found = self
                .spans
                .lock()
                .unwrap()
                .iter()
                .find(|span| span.trace_id == trace_id && span.name == name)
                .cloned();
            if let Some(span) = found {
                return span;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no span {name} in the trace; received: {:?}",
                self.spans
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|span| span.name.clone())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_runs_from_the_http_request_through_the_append_and_the_relays_publish_to_the_projectors_apply(
) {
    let collector = Collector::default();
    let endpoint = collector.serve();
    let env = TestEnv::fresh();
    let ledger = Ledger::start(
        ledger_bin!(),
        &env,
        &[
            ("LEDGER_OTLP_ENDPOINT", endpoint.as_str()),
            // The SDK's batch exporter sends every 5 s by default.
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await
    .unwrap();
    let api = Api::new(&ledger);
    let (trace, client_span) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let response = api
        .request(reqwest::Method::POST, "/licenses")
        .header("traceparent", format!("00-{trace}-{client_span}-01"))
        .json(&purchase_body(None))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();

    let trace = hex(trace);
    let request = collector.span(&trace, "ledger.http.request").await;
    let execute = collector.span(&trace, "ledger.command.execute").await;
    let append = collector.span(&trace, "ledger.command.append").await;
    let publish = collector.span(&trace, "ledger.relay.publish_event").await;
    let apply = collector.span(&trace, "ledger.projector.apply").await;
    assert_eq!(
        request.parent_span_id,
        hex(client_span),
        "the caller's span"
    );
    assert_eq!(execute.parent_span_id, request.span_id);
    assert_eq!(append.parent_span_id, execute.span_id);
    // The event carries its request's context; the relay continues it, and the
    // stream message carries the relay's, which the projector continues.
    assert_eq!(publish.parent_span_id, request.span_id);
    assert_eq!(apply.parent_span_id, publish.span_id);
    let messages = stream_messages(&env.jetstream().await, &env.stream).await;
    let carried = messages[0].headers.get("traceparent").unwrap().to_string();
    assert_eq!(hex(&carried[36..52]), publish.span_id);
    drop(ledger);
    env.cleanup().await;
}
