//! # bilevel
//!
//! Fast, exact, embeddable stochastic bilevel optimization:
//! allocation-free kernels (STORM momentum, ball projection, central
//! finite-difference Hessian/Jacobian-vector products, SAGA tables) on slices
//! and fixed-size arrays, for `f32` and `f64`, on a portable scalar backend and
//! AVX2+FMA, AVX-512 and NEON backends ([`backend`]: zero-sized tokens, or
//! [`Backend`] detected once and dispatched once per call); dense and GLM
//! products for user oracles, and user kernels on the same backends.
//!
//! ```
//! use bilevel::kernels::{storm_update, project_ball};
//! let mut h = [0.0f64; 4];
//! storm_update(&mut h, &[3.0, 4.0, 0.0, 0.0], &[0.0; 4], 1.0).unwrap();
//! let s = project_ball(&mut h, 1.0).unwrap();
//! assert_eq!(s, 0.2);
//! ```
//!
//! ## Features
//! - `std` (default): runtime CPU detection for [`Backend::detect`] (queried once, cached); implies `alloc`.
//! - `alloc`: owned conveniences.
//! - `nalgebra`: kernels on nalgebra vectors.
//!
//! Without default features the crate is `#![no_std]` and builds for targets
//! such as `thumbv7em-none-eabihf`; math goes through `libm`.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn, missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod array;
pub mod backend;
pub mod error;
pub mod float;
pub mod kernels;
#[cfg(feature = "nalgebra")]
#[cfg_attr(docsrs, doc(cfg(feature = "nalgebra")))]
pub mod na;
pub mod oracles;
pub mod quadratic;
pub mod random;
pub mod schedule;
pub mod solvers;

pub use backend::Backend;
pub use error::Error;
pub use float::Float;
/// The `rand_core` version the oracle traits use, so that an implementation
/// of [`oracles::Problem`] names the same `Rng` trait without guessing.
pub use rand_core;

/// The README's code blocks, compiled and run as doc tests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
