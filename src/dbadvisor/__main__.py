from dbadvisor.cli import main

main()
