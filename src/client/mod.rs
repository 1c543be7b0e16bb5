//! Who is on the other end of stdin: which client it is, what of a result reaches its model,
//! how long it waits for one call, and which folders it says the user works in.

pub(crate) mod connection;
pub(crate) mod policy;
pub(crate) mod profile;
pub(crate) mod roots;
