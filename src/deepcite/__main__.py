from deepcite.cli import main

main()
