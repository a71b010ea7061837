from lucida.cli import main

main()
