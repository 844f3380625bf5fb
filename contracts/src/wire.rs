//! Confluent's wire format: magic byte `0`, a 4-byte big-endian schema id, then Avro binary.
//!
//! Every Confluent serializer (Java, Python, Go, .NET) reads and writes exactly this framing, so
//! a consumer in any language can decode what a Sagaway service produced.

/// The first byte of every framed message.
pub const MAGIC_BYTE: u8 = 0;
/// Magic byte plus schema id.
pub const HEADER_LEN: usize = 5;

/// Why a byte string is not a Confluent-framed message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    /// Fewer than five bytes: no room for the header.
    #[error("message is {0} bytes, shorter than the 5-byte Confluent header")]
    TooShort(usize),
    /// The first byte is not `0`.
    #[error("unknown magic byte {0:#04x} (expected 0x00)")]
    BadMagic(u8),
}

/// Frames an Avro-binary payload written with the schema `schema_id`.
pub fn encode(schema_id: u32, avro_payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + avro_payload.len());
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&schema_id.to_be_bytes());
    out.extend_from_slice(avro_payload);
    out
}

/// Splits a framed message into its schema id and Avro payload.
pub fn decode(message: &[u8]) -> Result<(u32, &[u8]), WireError> {
    if message.len() < HEADER_LEN {
        return Err(WireError::TooShort(message.len()));
    }
    if message[0] != MAGIC_BYTE {
        return Err(WireError::BadMagic(message[0]));
    }
    let id = u32::from_be_bytes([message[1], message[2], message[3], message[4]]);
    Ok((id, &message[HEADER_LEN..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_round_trips_and_is_big_endian() {
        let framed = encode(0x0102_0304, b"avro");
        assert_eq!(&framed[..5], &[0, 1, 2, 3, 4]);
        assert_eq!(decode(&framed), Ok((0x0102_0304, &b"avro"[..])));
    }

    #[test]
    fn malformed_messages_are_refused_with_a_reason() {
        assert_eq!(decode(&[0, 0, 1]), Err(WireError::TooShort(3)));
        assert_eq!(decode(&[7, 0, 0, 0, 1, 2]), Err(WireError::BadMagic(7)));
    }
}
