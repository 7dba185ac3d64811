from zvt_crypto.cli import main

main()
