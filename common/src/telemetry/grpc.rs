//! Trace context and metrics for gRPC: a client interceptor that sends the
//! caller's `traceparent`, and a server layer that continues it in a span
//! per call and counts calls by method and status code.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame};
use tracing::Instrument;

use super::propagation;

/// A tonic interceptor adding the current span's `traceparent` to each call.
/// Compose it with an auth interceptor by calling [`TraceContextInterceptor::apply`]
/// from that one.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextInterceptor;

impl TraceContextInterceptor {
    /// Adds the trace context to `request`'s metadata.
    pub fn apply<T>(request: &mut tonic::Request<T>) {
        propagation::inject_metadata(request.metadata_mut());
    }
}

impl tonic::service::Interceptor for TraceContextInterceptor {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        Self::apply(&mut request);
        Ok(request)
    }
}

/// A tower layer for tonic servers: each call runs in a `grpc.server` span
/// that continues the caller's trace, and ends in
/// `hydrate_grpc_server_handled_total` / `hydrate_grpc_server_handling_seconds`.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcServerLayer;

impl<S> tower::Layer<S> for GrpcServerLayer {
    type Service = GrpcServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcServerService { inner }
    }
}

/// The service [`GrpcServerLayer`] makes.
#[derive(Debug, Clone)]
pub struct GrpcServerService<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<http::Request<B>> for GrpcServerService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    RB: Body + Unpin,
{
    type Response = http::Response<CallBody<RB>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = method_label(request.uri().path());
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %method,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        propagation::extract_http(request.headers()).set_parent_of(&span);
        let started = Instant::now();
        let future = self.inner.call(request).instrument(span.clone());
        Box::pin(async move {
            let response = future.await?;
            // An error answered at once has its status in the headers
            // ("trailers-only"); otherwise it comes in the trailers.
            let code = response.headers().get("grpc-status").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let mut call = Call { method, started, span, done: false };
            if let Some(code) = code {
                call.finish(&code);
            }
            Ok(response.map(|body| CallBody { inner: body, call }))
        })
    }
}

/// The method label: `Service/Method` for Hydrate's and the standard
/// services, `other` for any other path (an unknown path is a client's
/// string: it must not become a label value).
fn method_label(path: &str) -> String {
    let path = path.trim_start_matches('/');
    let known = ["hydrate.v1.", "grpc.health.v1.", "grpc.reflection.v1"];
    let well_formed = path.split('/').count() == 2
        && path.len() <= 96
        && path.chars().all(|c| c.is_ascii_alphanumeric() || "._/".contains(c));
    if well_formed && known.iter().any(|k| path.starts_with(k)) {
        path.to_owned()
    } else {
        "other".to_owned()
    }
}

/// The status code's name, as grpc-go and the OpenTelemetry conventions
/// spell it.
fn code_name(code: &str) -> &'static str {
    match code.trim() {
        "0" => "OK",
        "1" => "CANCELLED",
        "2" => "UNKNOWN",
        "3" => "INVALID_ARGUMENT",
        "4" => "DEADLINE_EXCEEDED",
        "5" => "NOT_FOUND",
        "6" => "ALREADY_EXISTS",
        "7" => "PERMISSION_DENIED",
        "8" => "RESOURCE_EXHAUSTED",
        "9" => "FAILED_PRECONDITION",
        "10" => "ABORTED",
        "11" => "OUT_OF_RANGE",
        "12" => "UNIMPLEMENTED",
        "13" => "INTERNAL",
        "14" => "UNAVAILABLE",
        "15" => "DATA_LOSS",
        "16" => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

struct Call {
    method: String,
    started: Instant,
    span: tracing::Span,
    done: bool,
}

impl Call {
    fn finish(&mut self, code: &str) {
        if self.done {
            return;
        }
        self.done = true;
        let name = code_name(code);
        // An unimplemented method's path is the client's to choose.
        let method = if name == "UNIMPLEMENTED" { "other" } else { self.method.as_str() };
        self.span.record("rpc.grpc.status_code", code.trim());
        crate::metrics::grpc_server().handled(method, name, self.started.elapsed().as_secs_f64());
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        // The body was dropped before its trailers: the client went away.
        self.finish("1");
    }
}

/// The response body, watched for the trailers that carry the status.
pub struct CallBody<B> {
    inner: B,
    call: Call,
}

impl<B: Body + Unpin> Body for CallBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) =
                    frame.trailers_ref().and_then(|t| t.get("grpc-status")).and_then(|v| v.to_str().ok())
                {
                    this.call.finish(code);
                }
            }
            Poll::Ready(Some(Err(_))) => this.call.finish("2"),
            // Ended without a status: tonic always sends one, so this is a
            // plain HTTP answer (a gRPC-web preflight, say).
            Poll::Ready(None) => this.call.finish("0"),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_labels_are_bounded() {
        assert_eq!(
            method_label("/hydrate.v1.ConnectorService/PutConnector"),
            "hydrate.v1.ConnectorService/PutConnector"
        );
        assert_eq!(method_label("/grpc.health.v1.Health/Check"), "grpc.health.v1.Health/Check");
        assert_eq!(method_label("/evil.Service/Anything"), "other");
        assert_eq!(method_label("/hydrate.v1.X/a/b"), "other");
        assert_eq!(method_label(&format!("/hydrate.v1.X/{}", "a".repeat(200))), "other");
    }

    #[test]
    fn code_names() {
        assert_eq!(code_name("0"), "OK");
        assert_eq!(code_name("16"), "UNAUTHENTICATED");
        assert_eq!(code_name("99"), "UNKNOWN");
    }
}
