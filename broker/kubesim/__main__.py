from dualtrack.broker.kubesim.main import main

main()
