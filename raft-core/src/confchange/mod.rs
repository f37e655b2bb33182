//! Configuration changes (etcd's `confchange` package): validating and
//! applying simple and joint-consensus changes to a copy of the tracker's
//! configuration, and rebuilding a configuration from a `ConfState`.
//!
//! Everything here is all-or-nothing: a [`Changer`] never touches the
//! tracker it was given; it returns a new configuration and progress map
//! which the caller installs, or an error.

mod changer;
mod restore;

pub use changer::Changer;
pub use restore::restore;



#[cfg(test)]
mod tests;
