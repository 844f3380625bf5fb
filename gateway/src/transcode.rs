//! The one handler behind every annotated route: HTTP request → request message (body, path
//! variables, query parameters) → gRPC call with deadline and metadata → proto3 JSON answer.
//!
//! The deadline is the route's own (`SAGAWAY_GATEWAY_ROUTE_TIMEOUTS`) or the gateway-wide one,
//! lowered by a client's `X-Request-Timeout-Ms`, and travels to the backend as `grpc-timeout`
//! (what remains of it on a retry). Past it the client gets 504 DEADLINE_EXCEEDED.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{
    DynamicMessage, Kind, MessageDescriptor, ReflectMessage as _, SerializeOptions,
};
use sagaway_platform::identity::Identity;
use tokio::time::Instant;
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};

use crate::error::GatewayError;
use crate::fields::{
    find_field, message_at_mut, query_name, set_from_text, set_map_entry_from_text,
};
use crate::headers::outgoing_metadata;
use crate::routes::{Lookup, Route, RouteTable};
use crate::template::Bindings;

/// Header a client may send to lower (never raise) the deadline, in milliseconds.
pub const REQUEST_TIMEOUT: &str = "x-request-timeout-ms";

/// The routes and how calls are made.
#[derive(Debug)]
pub struct Transcoder {
    /// The route table.
    pub routes: RouteTable,
    /// Deadline of each backend call whose route has none of its own, unless the client asks
    /// for less.
    pub timeout: Duration,
    /// Attempts for a GET whose backend is UNAVAILABLE (other methods are tried once).
    pub get_attempts: u32,
}

/// The fallback handler: every path that is not the gateway's own goes through here.
pub async fn handle(State(transcoder): State<Arc<Transcoder>>, request: Request) -> Response {
    match transcoder.transcode(request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

impl Transcoder {
    async fn transcode(&self, request: Request) -> Result<Response, GatewayError> {
        let (mut parts, body) = request.into_parts();
        // Looked up by an outer layer (`routes::resolve`); looked up here only when called alone.
        let lookup = match parts.extensions.remove::<Lookup>() {
            Some(lookup) => lookup,
            None => self.routes.lookup(&parts.method, parts.uri.path()),
        };
        let (route, bindings) = match lookup {
            Lookup::Found(route, bindings) => (route, bindings),
            Lookup::WrongMethod(allowed) => return Err(GatewayError::MethodNotAllowed(allowed)),
            Lookup::NotFound => return Err(GatewayError::no_route()),
        };
        let route = &*route;
        let deadline = self.deadline(route, &parts.headers)?;
        // Already read and limited by `protect::limit`; this only takes the buffered bytes.
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|err| GatewayError::bad_request(format!("reading the body: {err}")))?;
        let query = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|err| GatewayError::bad_request(format!("query string: {err}")))?;
        let message = request_message(route, bindings, &query.0, &body)?;
        let metadata = outgoing_metadata(&parts.headers, parts.extensions.get::<Identity>());
        let payload = Bytes::from(message.encode_to_vec());
        let reply = self
            .call(route, &parts.method, payload, &metadata, deadline)
            .await?;
        let reply = DynamicMessage::decode(route.rpc.output(), reply)
            .map_err(|err| Status::internal(format!("undecodable reply: {err}")))?;
        if route.response_body.is_some() {
            return Ok(Json(reply_json(&reply, route.response_body.as_deref())?).into_response());
        }
        // The whole reply: written straight to bytes, without a `serde_json::Value` in between.
        let mut bytes = Vec::with_capacity(256);
        reply
            .serialize_with_options(
                &mut serde_json::Serializer::new(&mut bytes),
                &SerializeOptions::new().skip_default_fields(false),
            )
            .map_err(|err| Status::internal(format!("reply to JSON: {err}")))?;
        Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response())
    }

    /// The route's own deadline, else the gateway's; `X-Request-Timeout-Ms` may only lower it.
    /// The backend receives what remains of it as `grpc-timeout`.
    fn deadline(&self, route: &Route, headers: &HeaderMap) -> Result<Duration, GatewayError> {
        let allowed = route.deadline.unwrap_or(self.timeout);
        let Some(asked) = headers.get(REQUEST_TIMEOUT) else {
            return Ok(allowed);
        };
        let millis: u64 = asked
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .ok_or_else(|| {
                GatewayError::bad_request("X-Request-Timeout-Ms must be milliseconds")
            })?;
        Ok(allowed.min(Duration::from_millis(millis)))
    }

    /// Calls the route's backend; GETs are retried on UNAVAILABLE within the deadline.
    async fn call(
        &self,
        route: &Route,
        method: &Method,
        payload: Bytes,
        metadata: &MetadataMap,
        deadline: Duration,
    ) -> Result<Bytes, Status> {
        let attempts = if method == Method::GET {
            self.get_attempts.max(1)
        } else {
            1
        };
        let started = Instant::now();
        for attempt in 1..=attempts {
            let remaining = deadline.saturating_sub(started.elapsed());
            let mut request =
                tonic::Request::from_parts(metadata.clone(), Default::default(), payload.clone());
            request.set_timeout(remaining);
            let outcome =
                tokio::time::timeout(remaining, route.backend.unary(&route.grpc_path, request))
                    .await
                    .unwrap_or_else(|_| Err(Status::deadline_exceeded("deadline exceeded")));
            match outcome {
                Ok(reply) => return Ok(reply.into_inner()),
                Err(status) if status.code() == Code::Unavailable && attempt < attempts => {
                    tracing::debug!(backend = route.backend.name(), attempt, "retrying GET");
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                }
                // A server that enforces `grpc-timeout` may say CANCELLED (tonic does): the
                // client sees the deadline it set, so it gets DEADLINE_EXCEEDED.
                Err(status)
                    if status.code() == Code::Cancelled
                        && started.elapsed() + Duration::from_millis(5) >= deadline =>
                {
                    return Err(Status::deadline_exceeded("deadline exceeded"));
                }
                Err(status) => return Err(status),
            }
        }
        Err(Status::unavailable("no attempt left"))
    }
}

/// Builds the request message from the body, the path variables and the query parameters.
pub fn request_message(
    route: &Route,
    bindings: Bindings,
    query: &[(String, String)],
    body: &[u8],
) -> Result<DynamicMessage, GatewayError> {
    let input = route.rpc.input();
    let mut message = DynamicMessage::new(input.clone());
    let body_field = route.body.as_deref();
    match body_field {
        _ if body.iter().all(u8::is_ascii_whitespace) => {}
        None => {}
        Some("*") => message = parse_json(input, body, "body")?,
        Some(path) => set_json_body(&mut message, path, body)?,
    }
    let mut bound: Vec<String> = body_field.into_iter().map(str::to_owned).collect();
    for (path, value) in bindings {
        bound.push(path.join("."));
        set_from_text(&mut message, &path, &value).map_err(GatewayError::bad_request)?;
    }
    if body_field != Some("*") {
        for (name, value) in query {
            let query_error = |why| GatewayError::bad_request(format!("query parameter {why}"));
            let (path, key) = query_name(name).map_err(query_error)?;
            let dotted = path.join(".");
            let covered = bound
                .iter()
                .any(|b| dotted == *b || dotted.starts_with(&format!("{b}.")));
            if covered {
                continue;
            }
            match key {
                None => set_from_text(&mut message, &path, value),
                Some(key) => set_map_entry_from_text(&mut message, &path, key, value),
            }
            .map_err(query_error)?;
        }
    }
    Ok(message)
}

fn parse_json(
    descriptor: MessageDescriptor,
    body: &[u8],
    what: &str,
) -> Result<DynamicMessage, GatewayError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    DynamicMessage::deserialize(descriptor, &mut deserializer)
        .and_then(|message| deserializer.end().map(|()| message))
        .map_err(|err| GatewayError::bad_request(format!("invalid JSON in {what}: {err}")))
}

/// `body: "field.path"`: the body is that field's JSON.
fn set_json_body(
    message: &mut DynamicMessage,
    path: &str,
    body: &[u8],
) -> Result<(), GatewayError> {
    let names: Vec<String> = path.split('.').map(str::to_owned).collect();
    let Some((leaf, parents)) = names.split_last() else {
        return Ok(());
    };
    let parent = message_at_mut(message, parents).map_err(GatewayError::bad_request)?;
    let field = find_field(&parent.descriptor(), leaf)
        .ok_or_else(|| GatewayError::bad_request(format!("no body field {path}")))?;
    match field.kind() {
        Kind::Message(descriptor) if !field.is_list() && !field.is_map() => {
            let value = parse_json(descriptor, body, &format!("body field {path}"))?;
            parent.set_field(&field, prost_reflect::Value::Message(value));
        }
        _ => {
            let value: serde_json::Value = serde_json::from_slice(body).map_err(|err| {
                GatewayError::bad_request(format!("invalid JSON in body field {path}: {err}"))
            })?;
            let wrapper = serde_json::json!({ field.json_name(): value });
            let holder =
                DynamicMessage::deserialize(parent.descriptor(), wrapper).map_err(|err| {
                    GatewayError::bad_request(format!("invalid JSON in body field {path}: {err}"))
                })?;
            parent.set_field(&field, holder.get_field(&field).into_owned());
        }
    }
    Ok(())
}

/// The reply as proto3 JSON: default values included, enums by name, `response_body` applied.
pub fn reply_json(
    reply: &DynamicMessage,
    response_body: Option<&str>,
) -> Result<serde_json::Value, Status> {
    let options = SerializeOptions::new().skip_default_fields(false);
    let mut value = reply
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|err| Status::internal(format!("reply to JSON: {err}")))?;
    let Some(path) = response_body else {
        return Ok(value);
    };
    let mut descriptor = reply.descriptor();
    for name in path.split('.') {
        let field = find_field(&descriptor, name)
            .ok_or_else(|| Status::internal(format!("response_body {path} is not a field")))?;
        value = value.get(field.json_name()).cloned().unwrap_or_default();
        if let Kind::Message(inner) = field.kind() {
            descriptor = inner;
        }
    }
    Ok(value)
}
