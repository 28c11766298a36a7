//! The experiments of `lab compare`, one file each. An experiment turns the plan into cells
//! ([`Job`](super::plan::Job)s); the cell runner runs them and the report crate draws them.

pub mod accept;
pub mod faults;
pub mod matrix;
pub mod rates;
pub mod slow;
