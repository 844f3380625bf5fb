//! The order saga observed from outside: a workload that drives it through the services'
//! gRPC APIs ([`workload`]) and a checker that verifies invariants 1-6 of DESIGN.md on the
//! three databases afterwards ([`check`]). `sagaway-saga` (src/bin) runs both from the
//! command line for `scripts/drill.sh` and `scripts/bench-saga.sh`; the system tests run
//! them in-process.

pub mod check;
pub mod workload;
