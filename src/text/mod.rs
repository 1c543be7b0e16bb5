//! Text helpers every layer uses: safe cuts, and numbers, sizes and durations for people.

pub mod cut;
pub mod human;
