vim.opt.number = true
require("plugins")
