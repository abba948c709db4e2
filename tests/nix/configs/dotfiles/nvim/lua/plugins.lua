return { "tpope/vim-fugitive" }
