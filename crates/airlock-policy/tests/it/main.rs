//! The integration-test binary: parsing policies and evaluating images
//! through the public API only.

mod evaluate;
mod fixtures;
mod parse;
