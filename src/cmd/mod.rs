//! One module per subcommand group.

pub mod circuit;
pub mod policy;
