//! The contracts hold together: every schema parses, every event round-trips through Avro,
//! and the descriptor set carries every service with its HTTP rules.

mod avro;
mod check;
mod compat;
mod descriptors;
