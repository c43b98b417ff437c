//! Allocation-free kernels on slices, one operation per file.
//!
//! Each kernel is an inherent method of [`Backend`](crate::Backend) (to name a
//! backend explicitly) and a free function here that runs it on
//! [`Backend::detect()`](crate::Backend::detect). Fixed-size array versions
//! live in [`crate::array`]; nalgebra versions in `crate::na` (feature
//! `nalgebra`).
//!
//! | file | kernels | ALGORITHMS.md |
//! |---|---|---|
//! | `axpy.rs` | [`axpy`] | solver steps |
//! | `candidate.rs` | [`axpy_into`] (candidate iterate + finiteness check, one pass) | solver commits |
//! | `body.rs` | [`body`]: bodies for user kernels | — |
//! | `dot.rs` | [`dot`], [`sum_sq`] | reductions |
//! | `norm.rs` | [`norm`] | §9.2 scaled norm |
//! | `storm.rs` | [`storm_update`], [`storm_step`], [`ema_update`] | §9.1 |
//! | `dense.rs` | [`gemv`], [`gemv_t`], [`batched_gemv`] | user oracles |
//! | `glm.rs` | [`glm_accumulate`] | §9.4 |
//! | `fd.rs` | [`hvp_central`], [`jvp_central`], [`central_pair`], [`Delta`] | §9.3 |
//! | `saga.rs` | [`SagaTable`], [`ScalarSagaTable`] | §9.4 |
//! | `project.rs` | [`project_ball`], [`project_ball_centered`], [`step_project`] | §9.2 |

pub(crate) mod axpy;
pub mod body;
mod candidate;
pub(crate) mod dense;
pub(crate) mod dot;
mod fd;
pub(crate) mod glm;
pub(crate) mod norm;
pub(crate) mod project;
mod saga;
pub(crate) mod storm;

pub use axpy::axpy;
pub use candidate::axpy_into;
pub use dense::{batched_gemv, gemv, gemv_t};
pub use dot::{LANES, dot, dot_in, dot2_in, sum_sq};
pub use fd::{Delta, FdReport, central_pair, hvp_central, jvp_central};
pub use glm::glm_accumulate;
pub use norm::norm;
pub use project::{project_ball, project_ball_centered, step_project};
pub use saga::{RowWeights, SagaTable, ScalarSagaTable};
pub use storm::{ema_update, storm_step, storm_update};
