# fish completion for ctys (installed by scripts/install.sh; or: source this file).
# ctys-complete prints "value<TAB>help" lines, which fish takes as its candidates.
function __ctys_complete
    set -l tokens (commandline -opc)
    set -l helper ctys-complete
    if string match -q '*/*' -- $tokens[1]; and test -x (dirname -- $tokens[1])/ctys-complete
        set helper (dirname -- $tokens[1])/ctys-complete
    end
    $helper --shell fish -- $tokens[2..-1] (commandline -ct) 2>/dev/null
end
complete -c ctys -f -a '(__ctys_complete)'
