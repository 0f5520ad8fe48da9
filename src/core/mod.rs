//! The request pipeline.
pub mod time;
