from broker.kubesim.main import main

main()
