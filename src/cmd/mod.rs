//! One module per subcommand group.

pub mod audit;
pub mod ceremony;
pub mod circuit;
pub mod code;
pub mod demo;
pub mod gate;
pub mod holder;
pub mod operator;
pub mod policy;
pub mod receipt;
pub mod registry;
pub mod serve;
pub mod sign_event;
