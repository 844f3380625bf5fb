//! A generic gRPC client: the gateway encodes and decodes messages itself (prost-reflect), so
//! the wire codec only moves bytes, and one client serves every method of every backend.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Buf as _, BufMut as _, Bytes};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

/// A codec that sends and receives already-encoded protobuf messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

/// Writes the bytes as they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawEncoder;

/// Reads the whole message as bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        RawEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// One backend: its name and its addresses, used in turn.
#[derive(Debug)]
pub struct Backend {
    name: String,
    channels: Vec<Channel>,
    next: AtomicUsize,
}

impl Backend {
    /// Lazily connecting channels to `urls`; connecting gives up after `connect_timeout`.
    pub fn new(
        name: &str,
        urls: &[String],
        connect_timeout: Duration,
    ) -> Result<Self, tonic::transport::Error> {
        let channels = urls
            .iter()
            .map(|url| {
                Ok(Endpoint::from_shared(url.clone())?
                    .connect_timeout(connect_timeout)
                    .connect_lazy())
            })
            .collect::<Result<Vec<_>, tonic::transport::Error>>()?;
        Ok(Self {
            name: name.to_owned(),
            channels,
            next: AtomicUsize::new(0),
        })
    }

    /// The backend's configured name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next address in round-robin order.
    fn channel(&self) -> Option<Channel> {
        let at = self.next.fetch_add(1, Ordering::Relaxed);
        self.channels.get(at % self.channels.len().max(1)).cloned()
    }

    /// Calls `path` (`/package.Service/Method`) with an encoded request.
    pub async fn unary(
        &self,
        path: &PathAndQuery,
        request: Request<Bytes>,
    ) -> Result<Response<Bytes>, Status> {
        let channel = self
            .channel()
            .ok_or_else(|| Status::unavailable(format!("backend {} has no address", self.name)))?;
        let path = path.clone();
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready()
            .await
            .map_err(|err| Status::unavailable(format!("backend {}: {err}", self.name)))?;
        grpc.unary(request, path, RawCodec).await
    }
}
