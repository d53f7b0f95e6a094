from dualtrack.sim.kubeapi.main import main

main()
