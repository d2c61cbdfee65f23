use clap::Parser;

fn main() {
    let cli = kubeadm::Cli::parse();
    if let Err(e) = kubeadm::run(cli) {
        eprintln!("error execution phase: {e}");
        std::process::exit(1);
    }
}
