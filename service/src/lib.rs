//! The registry and the witness as network services, and their clients.
//!
//! * [`server`]: `healthcode serve` — labs and tracers submit signed events, holders fetch their
//!   own witness, gates fetch heads and the cosigned checkpoint of the [`headlog`], the operator
//!   and accredited auditors act through signed requests ([`auth`]).
//! * [`witness`]: `healthcode witness serve` — a C2SP tlog-witness that cosigns the head log's
//!   checkpoints only when they are consistent with what it cosigned before.
//! * [`client`]: the blocking HTTP clients the command line uses.

pub mod api;
pub mod auth;
#[cfg(feature = "client")]
pub mod client;
pub mod gate;
pub mod headlog;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod witness;
