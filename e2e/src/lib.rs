//! Cross-process tests for Sagaway live in `tests/system/` (Rust) and `python/` (clients in
//! another language). This library is empty on purpose.
