use clap::Parser;

/// mimalloc rather than glibc malloc: much less time in allocation and no arena lock
/// contention under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let opts = apiserver::options::Options::parse();
    if let Err(errs) = opts.validate() {
        if errs.len() == 1 {
            eprintln!("Error: {}", errs[0]);
        } else {
            eprintln!("Error: [{}]", errs.join(", "));
        }
        std::process::exit(1);
    }
    apiserver::init_logging(opts.verbosity);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    if let Err(e) = rt.block_on(apiserver::run(opts)) {
        eprintln!("Error: {e}");
        std::process::exit(1);
    }
}
