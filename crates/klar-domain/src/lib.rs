//! Klar's domain core.
//!
//! Pure types and rules: no I/O, no clock, no global randomness. Values from
//! the outside world are parsed into the newtypes of this crate at the edge
//! (HTTP, CLI, import) and are valid from then on ("parse, don't validate").

pub mod access;
pub mod art14;
pub mod campaign;
pub mod clock;
pub mod currency;
pub mod demo;
pub mod dsr;
pub mod email;
pub mod error;
pub mod ids;
pub mod installation;
pub mod password;
pub mod phone;
pub mod policy;
pub mod processor;
pub mod records;
pub mod retention;
pub mod role;
pub mod ropa;
pub mod search;
pub mod text;

pub use clock::Clock;
pub use error::{DomainError, FieldError};
