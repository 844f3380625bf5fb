//! A service the gateway was not built for: `demo.echo.v1.EchoService`, written as proto text
//! here, compiled to a descriptor set with protox at test time and served by a hand-made tonic
//! service that works on prost-reflect `DynamicMessage`s.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, Value};
use sagaway_gateway::client::RawCodec;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::{Code, Status};

use crate::helpers::{Running, unique};

const ECHO_PROTO: &str = r#"
syntax = "proto3";
package demo.echo.v1;
import "google/api/annotations.proto";

// Says things back.
service EchoService {
  // Echoes a message, with the request id and trace it came with.
  rpc Echo(EchoRequest) returns (EchoReply) {
    option (google.api.http) = {
      get: "/v1/echo/{message}"
      additional_bindings { get: "/v1/echo/shelves/{shelf.name=shelves/*}/{message}" }
    };
  }
  // Pins a note to a board.
  rpc PinNote(PinNoteRequest) returns (PinNoteReply) {
    option (google.api.http) = {
      post: "/v1/boards/{board}/notes"
      body: "note"
      response_body: "note"
    };
  }
  // Fails with the code asked for.
  rpc Fail(FailRequest) returns (FailReply) {
    option (google.api.http) = {delete: "/v1/failures/{code}"};
  }
  // Answers after `millis`, with the `grpc-timeout` the call came with.
  rpc Slow(SlowRequest) returns (SlowReply) {
    option (google.api.http) = {get: "/v1/slow"};
  }
}

enum Mood { MOOD_UNSPECIFIED = 0; MOOD_HAPPY = 1; MOOD_GRUMPY = 2; }
message Shelf { string name = 1; }
message EchoRequest {
  string message = 1;
  int32 times = 2;
  Mood mood = 3;
  repeated string tags = 4;
  Shelf shelf = 5;
  map<string, int32> counts = 6;
}
message EchoReply {
  string message = 1;
  int32 times = 2;
  Mood mood = 3;
  repeated string tags = 4;
  string shelf = 5;
  string request_id = 6;
  string traceparent = 7;
  string user_id = 8;
  map<string, int32> counts = 9;
}
message Note { string text = 1; int32 stars = 2; string board = 3; }
message PinNoteRequest { string board = 1; Note note = 2; }
message PinNoteReply { Note note = 1; string pinned_by = 2; }
message FailRequest { int32 code = 1; }
message FailReply {}
message SlowRequest { int64 millis = 1; }
message SlowReply { string grpc_timeout = 1; }
"#;

/// Compiles the echo proto (with the repository's `google/api` imports) into a descriptor set
/// file, as `protoc --include_imports --descriptor_set_out` would.
pub(crate) fn descriptor_set() -> (PathBuf, DescriptorPool) {
    let dir = std::env::temp_dir().join(unique("echo-proto"));
    std::fs::create_dir_all(dir.join("demo/echo/v1")).expect("proto dir");
    std::fs::write(dir.join("demo/echo/v1/echo.proto"), ECHO_PROTO).expect("write proto");
    let repo_protos = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let mut compiler = protox::Compiler::new([dir.clone(), repo_protos]).expect("compiler");
    compiler.include_imports(true).include_source_info(true);
    compiler
        .open_file("demo/echo/v1/echo.proto")
        .expect("echo proto compiles");
    let bytes = compiler.encode_file_descriptor_set();
    let path = dir.join("echo.bin");
    std::fs::write(&path, &bytes).expect("write descriptor set");
    let pool = DescriptorPool::decode(bytes.as_slice()).expect("descriptor set decodes");
    (path, pool)
}

/// Serves the echo service on a random port.
pub(crate) async fn spawn(pool: DescriptorPool) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind echo");
    let addr = listener.local_addr().expect("echo address");
    Running::start(addr, addr, |stopped| async move {
        tonic::transport::Server::builder()
            .add_service(EchoServer { pool })
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async move {
                    let _ = stopped.await;
                },
            )
            .await?;
        Ok(())
    })
}

#[derive(Clone)]
struct EchoServer {
    pool: DescriptorPool,
}

impl tonic::server::NamedService for EchoServer {
    const NAME: &'static str = "demo.echo.v1.EchoService";
}

impl Service<http::Request<tonic::body::Body>> for EchoServer {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let method = request.uri().path().rsplit('/').next().unwrap_or_default();
        let unary = EchoMethod {
            pool: self.pool.clone(),
            method: method.to_owned(),
        };
        Box::pin(async move {
            Ok(tonic::server::Grpc::new(RawCodec)
                .unary(unary, request)
                .await)
        })
    }
}

struct EchoMethod {
    pool: DescriptorPool,
    method: String,
}

impl tonic::server::UnaryService<Bytes> for EchoMethod {
    type Response = Bytes;
    type Future = BoxFuture<tonic::Response<Bytes>, Status>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let (pool, method) = (self.pool.clone(), self.method.clone());
        Box::pin(async move { answer(&pool, &method, request).await })
    }
}

async fn answer(
    pool: &DescriptorPool,
    method: &str,
    request: tonic::Request<Bytes>,
) -> Result<tonic::Response<Bytes>, Status> {
    let rpc = pool
        .get_service_by_name("demo.echo.v1.EchoService")
        .and_then(|service| service.methods().find(|m| m.name() == method))
        .ok_or_else(|| Status::unimplemented(method.to_owned()))?;
    let metadata = |key: &str| {
        request
            .metadata()
            .get(key)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (request_id, trace, user, grpc_timeout) = (
        metadata("x-request-id"),
        metadata("traceparent"),
        metadata("x-sagaway-user-id"),
        metadata("grpc-timeout"),
    );
    let input = DynamicMessage::decode(rpc.input(), request.into_inner())
        .map_err(|err| Status::invalid_argument(err.to_string()))?;
    let field = |name: &str| input.get_field_by_name(name).map(|v| v.into_owned());
    let mut reply = DynamicMessage::new(rpc.output());
    match method {
        "Echo" => {
            for name in ["message", "times", "mood", "tags", "counts"] {
                if let Some(value) = field(name) {
                    reply.set_field_by_name(name, value);
                }
            }
            let shelf = field("shelf").and_then(|s| {
                s.as_message()
                    .and_then(|m| m.get_field_by_name("name"))
                    .map(|v| v.into_owned())
            });
            reply.set_field_by_name("shelf", shelf.unwrap_or(Value::String(String::new())));
            reply.set_field_by_name("request_id", Value::String(request_id));
            reply.set_field_by_name("traceparent", Value::String(trace));
            reply.set_field_by_name("user_id", Value::String(user));
        }
        "PinNote" => {
            let mut note = field("note")
                .and_then(|n| n.as_message().cloned())
                .unwrap_or_else(|| {
                    DynamicMessage::new(
                        pool.get_message_by_name("demo.echo.v1.Note").expect("Note"),
                    )
                });
            note.set_field_by_name(
                "board",
                field("board").unwrap_or(Value::String(String::new())),
            );
            reply.set_field_by_name("note", Value::Message(note));
            reply.set_field_by_name("pinned_by", Value::String(user));
        }
        "Fail" => {
            let code = field("code").and_then(|v| v.as_i32()).unwrap_or(2);
            return Err(Status::new(Code::from(code), "failed on purpose"));
        }
        _ => {
            let millis = field("millis").and_then(|v| v.as_i64()).unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(millis.unsigned_abs())).await;
            reply.set_field_by_name("grpc_timeout", Value::String(grpc_timeout));
        }
    }
    Ok(tonic::Response::new(Bytes::from(reply.encode_to_vec())))
}
