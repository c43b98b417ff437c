//! A small tour of the kernels: which backend runs, STORM momentum tracking a
//! noisy gradient, and a projected step.
//!
//! Run: `cargo run --release --example kernels`

use bilevel::{Backend, kernels};

fn main() -> Result<(), bilevel::Error> {
    let backend = Backend::detect();
    println!("detected backend: {}", backend.name());

    // STORM on a noisy gradient of F(w) = ½‖w‖² with the SAME noise at both points.
    let n = 8;
    let (mut w, mut w_prev) = (vec![1.0f64; n], vec![1.0f64; n]);
    let mut h = vec![0.0f64; n];
    let (mut g, mut g_prev) = (vec![0.0f64; n], vec![0.0f64; n]);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for t in 0..50u64 {
        for i in 0..n {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let noise = (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            g[i] = w[i] + noise;
            g_prev[i] = w_prev[i] + noise;
        }
        let eta = if t == 0 { 1.0 } else { 0.1 };
        w_prev.copy_from_slice(&w);
        kernels::storm_step(&mut h, &mut w, &g, &g_prev, eta, 0.2)?;
        let r = kernels::project_ball(&mut w, 2.0)?;
        if t % 10 == 9 {
            println!(
                "t = {:2}  ‖w‖ = {:.3e}  ‖h‖ = {:.3e}  projection factor = {r}",
                t + 1,
                kernels::norm(&w)?,
                kernels::norm(&h)?
            );
        }
    }
    Ok(())
}
