//! The axia command line.

fn main() {}
