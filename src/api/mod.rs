//! What HelpCrunch is: its endpoints, search bodies, sorts, orders and models.

pub(crate) mod endpoints;
pub(crate) mod models;
pub(crate) mod orders;
pub(crate) mod search;
pub(crate) mod sort;
